"""ragft.hybrid.study: the A/B and the paired test on a tiny record, the router, and the committed record
checked against its own answers."""

import pytest

from ragft.hybrid import study
from ragft.rag.answers import answer_matches
from ragft.runtime.stats import mcnemar_exact


def _record():
    pools = ["unseen"] * 4 + ["tuned"]
    right = {
        "base_rag": [True, False, False, False, True],
        "reader_closed_book": [False] * 5,
        "qa_tuned_closed_book": [True, True, False, False, True],
        "hybrid": [True, True, True, True, False],
    }
    scores = {
        arm: [
            {
                "correct": r,
                "compliant": arm == "hybrid",
                "cites_gold": r and arm == "hybrid",
                "abstained": False,
                "confabulated": not r,
            }
            for r in flags
        ]
        for arm, flags in right.items()
    }
    costs = {arm: {"cpu_seconds_per_answer": 1.0, "prompt_tokens_mean": 10} for arm in right}
    return {"questions": [{"pool": p} for p in pools], "scores": scores, "costs": costs}


def test_ab_table_counts_one_pool_with_intervals():
    table = study.ab_table(_record())
    assert list(table) == list(study.AB_ARMS)
    assert table["hybrid"]["accuracy"]["k"] == 4 and table["hybrid"]["accuracy"]["n"] == 4
    assert table["base_rag"]["accuracy"]["k"] == 1 and table["hybrid"]["compliance"]["rate"] == 1.0
    assert table["hybrid"]["cost"]["prompt_tokens_mean"] == 10


def test_paired_test_compares_with_the_best_other_arm():
    paired = study.paired_test(_record())
    assert paired["other"] == "qa_tuned_closed_book"
    assert (paired["both"], paired["only_arm"], paired["only_other"], paired["neither"]) == (2, 2, 0, 0)
    assert paired["p_value"] == pytest.approx(0.5)  # two discordant pairs, both one way: 2 * (1/2)^2


@pytest.mark.parametrize(
    "query, path",
    [
        ("CSRF_COOKIE_AGE", "lookup"),
        ("squashmigrations --no-header", "lookup"),
        ("What is the capital of France?", "closed-book"),
        ("What does the SESSION_COOKIE_AGE setting default to?", "hybrid"),
        ("Which Python versions does Django 5.1 support?", "hybrid"),
        ("In which version was QuerySet.aiterator() added?", "hybrid"),
    ],
)
def test_route(query, path):
    assert study.route(query) == path


def test_summary_drops_the_per_question_lists():
    report = {"a": {"rate": 1, "outputs": [1]}, "questions": [], "b": [1, 2]}
    assert study.summary(report) == {"a": {"rate": 1}, "b": [1, 2]}


def test_two_hop_questions_use_unseen_facts_only():
    from ragft.corpus.fact_pools import pool_ids

    items = study.two_hop_questions()
    assert items and all(i["id"] in pool_ids("unseen") for i in items)
    assert all(i["subject"] in i["question"] and i["hop1_gold"] for i in items)


def test_the_committed_record_follows_from_its_answers():
    from ragft.tuning import knowledge_vs_behavior as kvb

    record = study.load_record()
    kvb_record = kvb.load_record()
    assert record["ab"] == {"unseen": study.ab_table(kvb_record), "paired": study.paired_test(kvb_record)}
    routing = record["routing"]
    for name in ("routed", "always_hybrid"):
        flags = [
            study._right(q, a) for q, a in zip(routing["questions"], routing["answers"][name], strict=True)
        ]
        assert routing["accuracy"][name]["all"]["k"] == sum(flags)
    paired = routing["paired"]
    assert paired["p_value"] == mcnemar_exact(paired["only_routed"], paired["only_always"])
    assert [q["route"] for q in routing["questions"]] == [
        study.route(q["question"]) for q in routing["questions"]
    ]
    hops = record["two_hop"]
    one_shot = [
        not a["abstained"] and answer_matches(a["answer"], i["gold"])
        for a, i in zip(hops["answers"]["one_shot"], hops["items"], strict=True)
    ]
    assert hops["one_shot"]["k"] == sum(one_shot) and hops["n"] == len(hops["items"])
    update = record["update"]
    assert all(
        update["paths"][m][v]["correct"]["n"] == update["n"]
        for m in ("rag", "hybrid")
        for v in ("4.2", "5.2")
    )


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_regenerating_the_two_hop_part_reproduces_the_record():
    """About 40 generations (a few CPU-minutes): the committed record is what the code produces."""
    from ragft.tuning.experiments import load_models

    model, tokenizer = load_models(("reader",))
    again = study.two_hop_study(model, tokenizer)
    assert study.summary(again) == study.summary(study.load_record()["two_hop"])
    assert again["answers"] == study.load_record()["two_hop"]["answers"]


def test_an_abstention_is_never_right_even_with_a_citation():
    item = {"type": "identifier", "gold_sections": ["5.2/ref/checks#admin"]}
    cited = {"answer": "x", "citations": ["5.2/ref/checks#admin"], "abstained": False}
    assert study._right(item, cited)
    assert not study._right(item, {**cited, "abstained": True})


def test_routing_scores_pair_the_two_systems_on_the_same_queries():
    mix = [
        {"type": "general", "question": "q1", "words": "paris"},
        {"type": "general", "question": "q2", "words": "rome"},
    ]
    routed = [{"answer": "Paris.", "citations": [], "abstained": False}] * 2
    always = [{"answer": "not in the documents", "citations": [], "abstained": True}] * 2
    scores = study.routing_scores(mix, ["closed-book"] * 2, routed, always)
    assert (
        scores["accuracy"]["routed"]["all"]["k"] == 1 and scores["accuracy"]["always_hybrid"]["all"]["k"] == 0
    )
    assert scores["paired"] == {"only_routed": 1, "only_always": 0, "p_value": 1.0}
    assert scores["routes"]["general"]["closed-book"] == 2


def test_update_paired_counts_answers_right_only_after_the_update():
    questions = [{"gold": "5", "stale": "4"}, {"gold": "5", "stale": "4"}]
    before = ['{"answer": "4", "citations": [1]}', '{"answer": "5", "citations": [1]}']
    after = ['{"answer": "5", "citations": [1]}', '{"answer": "5", "citations": [1]}']
    update = {
        "questions": questions,
        "paths": {"hybrid": {"4.2": {"outputs": before}, "5.2": {"outputs": after}}},
    }
    assert study.update_paired(update) == {"only_after": 1, "only_before": 0, "p_value": 1.0}
