"""ragft.hybrid.memorized: the variant's training mix, and the committed record against its sources."""

import json

import pytest

from ragft.hybrid import memorized


def test_memorized_pairs_are_closed_book_changed_facts_with_their_old_answers():
    from ragft.corpus.fact_pools import pool_ids

    pairs = memorized.memorized_pairs()
    changed = pool_ids("changed")
    assert len(pairs) == 27  # C less its test-split fact
    for prompt, target in pairs:
        assert "(none)" in prompt[-1]["content"]
        assert json.loads(target)["citations"] == []
    assert all(json.loads(t)["answer"] for _, t in pairs) and changed


def test_training_mix_interleaves_both_kinds_in_every_batch():
    mix = memorized.training_mix()
    assert len(mix) == memorized.STEPS * 4
    kinds = ["(none)" in prompt[-1]["content"] for prompt, _ in mix]
    assert sum(kinds) == len(memorized.memorized_pairs())
    assert all(any(kinds[i : i + 4]) and not all(kinds[i : i + 4]) for i in range(0, 40, 4))
    assert mix == memorized.training_mix()  # seeded


def test_the_committed_record_sets_the_variant_beside_the_readers_own_scores():
    from ragft.tuning import knowledge_vs_behavior as kvb

    record, source = memorized.load_record(), kvb.load_record()
    index = {q["id"]: i for i, q in enumerate(source["questions"])}
    for name, (pool, _, arm) in memorized.CONDITIONS.items():
        result = record["conditions"][name]
        assert len(record["outputs"][name]) == result["n"] == len(result["ids"])
        assert all(source["questions"][index[i]]["pool"] == pool for i in result["ids"])
        for measure, value in result["reader"].items():
            expected = sum(source["scores"][arm][index[i]][measure] for i in result["ids"])
            assert value["k"] == expected, (name, measure)
    with pytest.raises(FileNotFoundError, match="experiment memorized --save"):
        memorized.load_record(memorized.record_path().with_name("missing.json"))


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_retraining_the_variant_reproduces_its_recorded_losses():
    """About 80 CPU seconds on one thread: the recorded variant is what the code trains."""
    _, _, history = memorized.train_variant(progress=False)
    assert history["loss"] == pytest.approx(memorized.load_record()["training"]["loss"], rel=1e-3)
