"""Pool audits: the constant-answer baseline and the overlap of training data with the pools."""

import pytest

from ragft.tuning.pool_audit import (
    constant_baseline,
    current_training_facts,
    majority_answers,
    training_overlaps,
)


def _r(rid, kind, answer, answer_42=None, gold="5.2/p#x", subject="s", question=None):
    return {
        "id": rid,
        "kind": kind,
        "question": question or f"q {rid}?",
        "paraphrases": [],
        "answer": answer,
        "answer_42": answer_42,
        "gold_42": [],
        "gold_52": [gold],
        "subjects": [subject],
    }


def test_majority_answers_per_kind_with_alphabetical_ties():
    records = [_r("a", "k", "None"), _r("b", "k", "None"), _r("c", "k", "True"), _r("d", "v", "5.1")]
    records.append(_r("e", "v", "5.0"))
    assert majority_answers(records) == {"*": "None", "k": "None", "v": "5.0"}


def test_constant_baseline_scores_with_answer_matches_and_falls_back_for_unknown_kinds():
    reader = [_r("a", "k", "None"), _r("b", "k", "None"), _r("c", "v", "5.0")]
    pools = {
        "unseen": [_r("u1", "k", "None"), _r("u2", "k", "''"), _r("u3", "v", "5.0")],
        "changed": [_r("c1", "new", "True", answer_42="None")],
    }
    report = constant_baseline(reader, pools)
    assert report["pools"]["unseen"]["accuracy"] == pytest.approx(2 / 3)
    assert report["pools"]["unseen"]["by_kind"] == {"k": [1, 2], "v": [1, 1]}
    assert report["pools"]["changed"]["accuracy"] == 0.0  # guessed "None" (the "*" majority)
    assert report["pools"]["changed"]["matches_42"] == 1
    with pytest.raises(ValueError, match="reader must hold at least one record"):
        constant_baseline([], pools)


def test_training_overlaps_count_ids_and_any_shared_key():
    pools = {
        "unseen": [_r("u", "k", "1", gold="5.2/p#u", subject="U")],
        "changed": [],
        "tuned": [],
        "reader": [],
    }
    training = {
        "adapter": [
            _r("u", "k", "1", gold="5.2/p#u", subject="U"),
            _r("other", "k", "2", gold="4.2/p#u", subject="O"),  # same passage in 4.2
            _r("free", "k", "3", gold="5.2/p#f", subject="F"),
        ]
    }
    report = training_overlaps(training, pools)
    assert report["adapter"]["unseen"] == {"ids": 1, "any_key": 2}
    assert report["adapter"]["changed"] == {"ids": 0, "any_key": 0}


def test_current_training_facts_are_the_adapters_sets():
    from ragft.corpus.fact_pools import POOLS, load_pool

    found = current_training_facts()
    assert len(found["knowledge_train"]) == 67  # all of T (40) and C (28) less USE_TZ (test split)
    assert "test" not in {r["source_split"] for r in found["knowledge_train"]}
    assert len(found["behavior_train"]) == 245  # R's usable facts less the 16 dev facts
    pools = {name: load_pool(name) for name in POOLS}
    report = training_overlaps(found, pools)
    knowledge = report["knowledge_train"]
    assert knowledge["unseen"] == knowledge["reader"] == {"ids": 0, "any_key": 0}
    assert knowledge["tuned"]["ids"] == 40 and knowledge["changed"]["ids"] == 27
    behavior = report["behavior_train"]
    assert behavior["unseen"] == behavior["tuned"] == behavior["changed"] == {"ids": 0, "any_key": 0}
    assert behavior["reader"]["ids"] == 245
