"""ragft.hybrid.memorized: the variant's and the control's training data, and the committed record against
its sources."""

import json

import pytest

from ragft.hybrid import memorized
from ragft.runtime.stats import mcnemar_exact


def test_memorized_pairs_are_closed_book_changed_facts_with_their_old_answers():
    pairs = memorized.memorized_pairs()
    assert len(pairs) == 27  # C less its test-split fact
    for prompt, target in pairs:
        assert "(none)" in prompt[-1]["content"]
        reply = json.loads(target)
        assert reply["answer"] and reply["citations"] == []


def test_variant_and_control_differ_only_in_the_memorized_facts():
    variant, control = memorized.training_mix("variant"), memorized.training_mix("control")
    assert len(variant) == len(control) == memorized.STEPS * 4
    closed = ["(none)" in prompt[-1]["content"] for prompt, _ in variant]
    assert sum(closed) == len(memorized.memorized_pairs()) and not any(
        "(none)" in prompt[-1]["content"] for prompt, _ in control
    )
    assert all(any(closed[i : i + 4]) and not all(closed[i : i + 4]) for i in range(0, 40, 4))
    raft = [pair for pair, c in zip(variant, closed, strict=True) if not c]
    assert raft == control[: len(raft)]  # the variant's RAFT records are the control's first ones
    assert variant == memorized.training_mix("variant")  # seeded
    with pytest.raises(ValueError, match=r"arm must be one of \['variant', 'control'\]"):
        memorized.training_mix("other")


def test_the_committed_record_follows_from_its_scores_and_the_readers():
    from ragft.tuning import knowledge_vs_behavior as kvb

    record, source = memorized.load_record(), kvb.load_record()
    index = {q["id"]: i for i, q in enumerate(source["questions"])}
    for name, (pool, _, arm) in memorized.CONDITIONS.items():
        result = record["conditions"][name]
        assert all(source["questions"][index[i]]["pool"] == pool for i in result["ids"])
        for who in memorized.ARMS:
            scores = record["scores"][who][name]
            assert len(scores) == len(record["outputs"][who][name]) == result["n"] == len(result["ids"])
            for measure, value in result[who].items():
                assert value["k"] == sum(s[measure] for s in scores), (name, who, measure)
        for measure, value in result["reader"].items():
            assert value["k"] == sum(source["scores"][arm][index[i]][measure] for i in result["ids"])
        paired = result["stale_vs_control"]
        assert paired["p_value"] == mcnemar_exact(paired["only_variant"], paired["only_other"])
    with pytest.raises(FileNotFoundError, match="experiment memorized --save"):
        memorized.load_record(memorized.record_path().with_name("missing.json"))


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("arm", memorized.ARMS)
def test_retraining_reproduces_the_recorded_losses(arm):
    """About 80 CPU seconds each on one thread: the recorded adapters are what the code trains."""
    _, _, history = memorized.train_variant(progress=False, arm=arm)
    assert history["loss"] == pytest.approx(memorized.load_record()["training"][arm]["loss"], rel=1e-3)
