import json

import pytest

from ragft.rag.pipeline import RagAnswer
from ragft.rag.rag_eval import (
    DIAGNOSTICS,
    FAILURE_CLASSES,
    classify,
    covers_gold,
    examples_by_class,
    generation_metrics,
    is_abstention,
    is_supported,
    not_in_store_outcomes,
    score_answer,
    stratified_sample,
    subject_term,
    taxonomy_counts,
    taxonomy_figure,
    taxonomy_panels,
    term_in_texts,
)
from ragft.runtime.stats import wilson_interval

SECTIONS = {"c-gold#s0": ("gold",), "c-other#s0": ("other",), "c-both#s0": ("gold", "other")}


@pytest.mark.parametrize(
    "answer, expected",
    [
        ("I don't know.", True),
        ("The passages do not mention the default value.", True),
        ("The default value is not specified in the context.", True),
        ("There is no information about ColorInput.", True),
        ("The default value of USE_TZ is ``True``.", False),
        ("It was added in Django 5.1.", False),
    ],
)
def test_is_abstention(answer, expected):
    assert is_abstention(answer) is expected


def test_is_supported_checks_the_stated_value_against_the_passages():
    contexts = ["Default: ``'/'``\n\nThe path set on the CSRF cookie.", "Default: ``None``"]
    assert is_supported("The default is ``'/'``.", contexts)
    assert is_supported("It defaults to None.", contexts)
    assert not is_supported("The default is ``'/accounts/'``.", contexts)
    # no "is": the value after the last "to" or ":" counts
    assert is_supported("[1] Setting the default value of FILE_UPLOAD_MAX to 25M.", ["Default: ``25M``"])
    assert is_supported("Default value: None", ["Default: ``None``"])
    assert not is_supported("Setting the default value of FILE_UPLOAD_MAX to 25M.", ["Default: ``2.5M``"])
    assert not is_supported("", contexts)


def test_covers_gold_and_classify():
    assert covers_gold(["c-other#s0", "c-both#s0"], SECTIONS, ["gold"])
    assert not covers_gold(["c-other#s0", "unknown"], SECTIONS, ["gold"])
    assert classify(True, False) == "correct"
    assert classify(False, False) == "not_retrieved"
    assert classify(False, True) == "retrieved_but_ignored"
    assert classify(True, True, in_store=False) == "not_in_store"
    assert set(DIAGNOSTICS) == set(FAILURE_CLASSES) - {"correct"}


@pytest.mark.parametrize(
    "query, term",
    [
        (
            {
                "text": "What is the default value of the USE_TZ setting?",
                "metadata": {"kind": "setting_default"},
            },
            "USE_TZ",
        ),
        (
            {
                "text": "What is the default value of the DATABASES['TEST']['CHARSET'] setting?",
                "metadata": {"kind": "setting_default"},
            },
            "CHARSET",
        ),
        (
            {
                "text": "In which Django version was the method OGRGeometry.set_3d() added?",
                "metadata": {"kind": "version_added"},
            },
            "set_3d",
        ),
        (
            {
                "text": "In which Django version was the class ColorInput added?",
                "metadata": {"kind": "version_added"},
            },
            "ColorInput",
        ),
        (
            {
                "text": "Which Python versions does Django 1.7 support?",
                "metadata": {"kind": "python_support"},
            },
            None,
        ),
    ],
)
def test_subject_term(query, term):
    assert subject_term(query) == term


def test_term_in_texts_matches_whole_words_only():
    assert term_in_texts("set_3d", ["call geom.set_3d(True)"])
    assert not term_in_texts("set_3d", ["call geom.set_3dx(True)"])
    assert not term_in_texts("ColorInput", ["colorinput"])


def test_stratified_sample_is_proportional_seeded_and_checked():
    kinds = {f"a{i}": "a" for i in range(30)} | {f"b{i}": "b" for i in range(10)}
    picked = stratified_sample(kinds, 8, seed=1)
    assert len(picked) == 8 and sum(p.startswith("a") for p in picked) == 6
    assert picked == stratified_sample(kinds, 8, seed=1) and picked == sorted(picked)
    assert picked != stratified_sample(kinds, 8, seed=2)
    with pytest.raises(ValueError, match="n must be"):
        stratified_sample(kinds, 41)


def _answer(text, context_ids, contexts, citations=(), source="none"):
    return RagAnswer(
        "Q?", text, tuple(citations), tuple(context_ids), "prompt", text, tuple(contexts), source
    )


def test_score_answer_and_metrics():
    right = score_answer(
        _answer("It is ``'/'``.", ["c-gold#s0"], ["Default: ``'/'``"], ["c-gold#s0"], "attributed"),
        "'/'",
        ["gold"],
        SECTIONS,
    )
    ignored = score_answer(
        _answer(
            "It is ``None``.",
            ["c-other#s0", "c-gold#s0"],
            ["Default: ``None``", "Default: ``'/'``"],
            ["c-other#s0"],
            "attributed",
        ),
        "'/'",
        ["gold"],
        SECTIONS,
    )
    missed = score_answer(
        _answer("I don't know.", ["c-other#s0"], ["Default: ``None``"]), "'/'", ["gold"], SECTIONS
    )
    assert right["class"] == "correct" and right["supported"] and right["citation_correct"]
    assert ignored["class"] == "retrieved_but_ignored" and ignored["answer_in_prompt"]
    assert ignored["supported"] and not ignored["citation_correct"]
    assert missed["class"] == "not_retrieved" and missed["abstained"] and not missed["citations"]
    json.dumps([right, ignored, missed])

    metrics = generation_metrics([right, ignored, missed])
    assert metrics["questions"] == 3
    assert metrics["correct"] == pytest.approx(1 / 3) and metrics["supported"] == pytest.approx(2 / 3)
    assert metrics["cited"] == pytest.approx(2 / 3) and metrics["citation_precision"] == pytest.approx(0.5)
    assert metrics["cited_by_model"] == 0
    assert taxonomy_counts([right, ignored, missed]) == {
        "correct": 1,
        "not_retrieved": 1,
        "retrieved_but_ignored": 1,
        "not_in_store": 0,
    }
    assert examples_by_class([right, ignored])["not_retrieved"] is None
    with pytest.raises(ValueError, match="class must be"):
        taxonomy_counts([{"class": "other"}])
    assert generation_metrics([])["correct"] == 0.0


def test_not_in_store_outcomes():
    stale = [
        {"abstained": True, "supported": False, "correct": False},
        {"abstained": False, "supported": True, "correct": False},
        {"abstained": False, "supported": False, "correct": True},
    ]
    assert not_in_store_outcomes(stale) == {
        "questions": 3,
        "abstained": 1,
        "confabulated": 2,
        "confabulated_from_context": 1,
        "guessed_right": 1,
    }


def _echo_first_passage(prompt, *, system=None, max_new_tokens=32):
    """A fake reader: states the first ``literal`` of the prompt (right when passage [1] is the gold one)."""
    import re

    match = re.search(r"``(.+?)``", prompt)
    return f"The answer is ``{match.group(1)}``." if match else "I don't know."


def test_run_rag_eval_on_the_mini_collection_with_a_fake_reader():
    from ragft.rag.rag_eval import run_rag_eval

    result = run_rag_eval(
        n_questions=6, corpus="mini", n_not_in_store=0, generate_fn=_echo_first_passage, show_progress=False
    )
    json.dumps(result)
    assert result["config"]["n_questions"] == 6 and result["config"]["collection"] == "facts-mini"
    assert result["retrieval"]["all_test"]["questions"] == 127
    assert 0 <= result["retrieval"]["sample"]["recall@3"] <= 1
    assert sum(result["taxonomy"].values()) == 6 and result["taxonomy"]["not_in_store"] == 0
    assert len(result["records"]) == 6 and result["generation_timing"]["answers"] == 6
    with pytest.raises(ValueError, match="corpus"):
        run_rag_eval(corpus="other", generate_fn=_echo_first_passage)


@pytest.mark.slow
def test_run_rag_eval_builds_an_honest_not_in_store_case():
    from ragft.rag.rag_eval import run_rag_eval

    result = run_rag_eval(
        n_questions=3, corpus="mini", n_not_in_store=4, generate_fn=_echo_first_passage, show_progress=False
    )
    stale = result["not_in_store_records"]
    assert len(stale) == 4 and all(r["class"] == "not_in_store" and not r["gold_in_context"] for r in stale)
    assert result["taxonomy"]["not_in_store"] == 4
    assert result["not_in_store"]["store"]["candidates"] >= 4


def _taxonomy_results(classes, stale_abstained):
    records = [{"class": c} for c in classes]
    stale = [{"abstained": a, "supported": False, "correct": False} for a in stale_abstained]
    return {"records": records, "not_in_store": not_in_store_outcomes(stale)}


def test_taxonomy_panels_never_mix_the_two_samples():
    results = _taxonomy_results(
        ["correct", "not_retrieved", "retrieved_but_ignored", "retrieved_but_ignored"], [False] * 3
    )
    rows = taxonomy_panels(results)
    answerable = {r["outcome"]: r for r in rows if r["panel"] == "answerable"}
    stale = {r["outcome"]: r for r in rows if r["panel"] == "not in the store"}
    assert set(answerable) == {"correct", "not_retrieved", "retrieved_but_ignored"}
    assert set(stale) == {"abstained", "confabulated"}
    assert {r["n"] for r in answerable.values()} == {4} and {r["n"] for r in stale.values()} == {3}
    assert answerable["retrieved_but_ignored"]["share"] == 0.5 and stale["confabulated"]["share"] == 1.0
    assert (stale["abstained"]["low"], stale["abstained"]["high"]) == wilson_interval(0, 3)
    assert sum(r["count"] for r in answerable.values()) == 4 and sum(r["count"] for r in stale.values()) == 3
    mixed = {"records": [{"class": "not_in_store"}], "not_in_store": results["not_in_store"]}
    with pytest.raises(ValueError, match="answerable questions only"):
        taxonomy_panels(mixed)


def test_taxonomy_figure_has_one_panel_per_sample_titled_with_its_n():
    fig = taxonomy_figure(
        _taxonomy_results(["correct"] * 3 + ["retrieved_but_ignored"] * 5, [False, True]), "T"
    )
    left, right = fig.axes
    assert "(n=8)" in left.get_title() and "(n=2)" in right.get_title()
    assert "8" in left.get_xlabel() and "2" in right.get_xlabel() and left.get_ylabel()
    assert fig._suptitle.get_text().startswith("T")
    assert all(0 <= bar.get_width() <= 1 for ax in fig.axes for bar in ax.patches)  # shares, not counts
