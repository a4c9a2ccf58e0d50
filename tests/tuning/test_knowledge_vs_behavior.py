"""ragft.tuning.knowledge_vs_behavior: questions, prompts per arm and the two-axis scoring, on tiny inputs."""

import pytest

from ragft.retrieval.chunking import Chunk
from ragft.tuning import knowledge_vs_behavior as kvb


def chunk(cid, text):
    return Chunk(cid, "doc", text, "Settings > X", 0, len(text), ("5.2/ref/settings#x",))


Q = {
    "pool": "changed",
    "id": "f",
    "kind": "setting_default",
    "question": "Default of USE_TZ?",
    "gold": "True",
    "gold_sections": ["5.2/ref/settings#x"],
    "stale": "False",
}
GOLD, OTHER = chunk("g", "Default: ``True``"), chunk("o", "Something else")


J_TRUE_1 = '{"answer": "True", "citations": [1]}'
J_TRUE_2 = '{"answer": "True", "citations": [2]}'
J_FALSE_2 = '{"answer": "False", "citations": [2]}'
J_ABSTAIN = '{"answer": "not in the documents", "citations": []}'
CASES = [
    (
        J_TRUE_1,
        [GOLD, OTHER],
        {"correct": True, "compliant": True, "cites_gold": True, "confabulated": False},
    ),
    (J_TRUE_2, [GOLD, OTHER], {"correct": True, "compliant": True, "cites_gold": False}),
    (J_FALSE_2, [GOLD, OTHER], {"correct": False, "confabulated": True, "stale": True}),
    (J_ABSTAIN, [OTHER], {"correct": False, "abstained": True, "confabulated": False, "compliant": True}),
    ("The default is True [1]", [GOLD], {"correct": True, "compliant": False, "confabulated": False}),
    ("The default is False [1]", [GOLD], {"correct": False, "compliant": False, "confabulated": True}),
    ('{"answer": "False", "citations": [', [GOLD], {"correct": False, "confabulated": False}),
    ("False", [], {"correct": False, "compliant": False, "confabulated": True, "stale": True}),
    ("I don't know.", [], {"abstained": True, "confabulated": False}),
    ("True", [], {"correct": True, "confabulated": False, "stale": False}),
]


@pytest.mark.parametrize("output, passages, expected", CASES)
def test_score_output_on_both_axes(output, passages, expected):
    scored = kvb.score_output(output, Q, passages)
    assert {k: scored[k] for k in expected} == expected


def test_stratified_keeps_each_kinds_share_and_is_seeded():
    records = [{"id": f"a{i}", "kind": "a"} for i in range(30)] + [
        {"id": f"b{i}", "kind": "b"} for i in range(10)
    ]
    picked = kvb.stratified(records, 8, seed=1)
    assert [r["kind"] for r in picked].count("a") == 6 and len(picked) == 8
    assert picked == kvb.stratified(records, 8, seed=1) != kvb.stratified(records, 8, seed=2)
    with pytest.raises(ValueError, match="n must be between 1 and 40"):
        kvb.stratified(records, 41)


def test_prompts_per_arm_differ_only_in_adapter_and_passages():
    questions = [Q]
    retrieved, oracle = [[OTHER, GOLD]], [[GOLD]]
    rag = kvb.prompts_for("base_rag", questions, retrieved, oracle)
    assert rag == kvb.prompts_for("hybrid", questions, retrieved, oracle)
    assert "[2] Settings > X" in rag[0][1]["content"]
    assert "(none)" in kvb.prompts_for("reader_closed_book", questions, retrieved, oracle)[0][1]["content"]
    oracle_prompt = kvb.prompts_for("base_oracle", questions, retrieved, oracle)[0][1]["content"]
    assert "[1] Settings > X\nDefault: ``True``" in oracle_prompt and "[2]" not in oracle_prompt
    closed = kvb.prompts_for("qa_tuned_closed_book", questions, retrieved, oracle)[0]
    assert closed[-1]["content"] == Q["question"] and "Documents" not in closed[0]["content"]


def test_summarize_gives_every_rate_an_interval():
    questions = [{**Q, "pool": p} for p in kvb.ASKED_POOLS for _ in range(2)]
    right = {
        "correct": True,
        "compliant": True,
        "abstained": False,
        "confabulated": False,
        "cites_gold": True,
        "stale": False,
    }
    wrong = {**right, "correct": False, "confabulated": True, "stale": True}
    scores = {"constant": [wrong] * 6, "hybrid": [right, wrong] * 3}
    report = kvb.summarize(questions, scores)
    assert report["accuracy"]["unseen"] == {"constant": 0.0, "hybrid": 0.5}
    low, high = report["intervals"]["accuracy"]["unseen"]["hybrid"]
    assert 0 < low < 0.5 < high < 1
    assert report["compliance"] == {"constant": None, "hybrid": 1.0}
    assert report["stale"]["constant"] == 1.0 and report["confabulation"]["changed"]["hybrid"] == 0.5


def test_demo_index_picks_the_first_question_showing_all_four_behaviors(tmp_path):
    good = {
        "base_closed_book": {"correct": False},
        "base_rag": {"correct": True, "compliant": False},
        "reader_closed_book": {"compliant": True, "abstained": True},
        "hybrid": {"correct": True, "compliant": True, "cites_gold": True},
    }
    bad = {**good, "hybrid": {"correct": False, "compliant": True, "cites_gold": False}}
    record = {
        "questions": [{"pool": "tuned"}, {"pool": "unseen"}, {"pool": "unseen"}],
        "scores": {arm: [good[arm], bad[arm], good[arm]] for arm in good},
    }
    assert kvb.demo_index(record) == 2
    with pytest.raises(ValueError, match="no question of pool 'changed'"):
        kvb.demo_index(record, "changed")
    kvb.save_record({"b": 1, "a": [1, 2], "seconds": 3.5}, tmp_path / "r.json")
    loaded = kvb.load_record(tmp_path / "r.json")
    assert kvb.deterministic_part(loaded) == {"a": [1, 2], "b": 1}
    with pytest.raises(FileNotFoundError, match="knowledge-vs-behavior --save"):
        kvb.load_record(tmp_path / "missing.json")


def test_generation_stops_only_after_a_closed_json_object():
    assert kvb.until_json_closes("The default is")  # prose runs on: it is scored whole
    assert kvb.until_json_closes('{"answer": "True", "cit')
    assert kvb.until_json_closes('{"answer": "True", "citations": [1]}')
    assert not kvb.until_json_closes('{"answer": "True", "citations": [1]} and')


def test_the_committed_record_follows_from_its_outputs_and_asks_no_trained_fact():
    """The numbers notebooks 01 and 06 show are the committed outputs scored by this module, and no asked
    fact of the unseen pool was in any adapter's training data."""
    from ragft.tuning.reader_adapter import reader_records

    record = kvb.load_record()
    questions = record["questions"]
    assert questions == kvb.question_set(record["config"]["n_unseen"], record["config"]["seed"])
    retrieved, oracle = kvb.passages_for(questions)
    scores = kvb.score_all(questions, record["outputs"], retrieved, oracle)
    assert scores == record["scores"]
    summary = kvb.summarize(questions, scores)
    assert {key: record[key] for key in summary} == summary
    trained = {r["id"] for r in reader_records()}
    from ragft.tuning.knowledge_data import knowledge_facts

    trained |= {f["fact_id"] for f in knowledge_facts()}
    assert not {q["id"] for q in questions if q["pool"] == "unseen"} & trained
