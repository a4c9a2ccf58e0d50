"""lab_retrieval's support: the checks accept the reference and name the misconception behind each classic
mistake, on tiny inputs; the real rankings and an end-to-end grading are marked slow."""

import nbformat
import numpy as np
import pytest

from ragft.labs import assignments as labs
from ragft.labs import lab_retrieval as support
from ragft.retrieval.fusion import convex as ref_convex
from ragft.retrieval.fusion import min_max as ref_min_max
from ragft.retrieval.fusion import rrf as ref_rrf
from ragft.retrieval.metrics import recall_at_k as ref_recall
from ragft.retrieval.metrics import reciprocal_rank_at_k as ref_rr

LAB = "lab_retrieval"


# ------------------------------------------------------------------------------------ right answers pass


def test_the_reference_functions_pass_every_check():
    assert support.check_cosine(lambda u, v: float(u @ v / np.linalg.norm(u) / np.linalg.norm(v))) == ""
    assert support.check_rrf(lambda a, b, k: ref_rrf([a, b], k=k)) == ""
    assert support.check_min_max(ref_min_max) == ""
    assert support.check_convex(ref_convex) == ""
    assert support.check_recall(ref_recall) == ""
    assert support.check_mrr(ref_rr) == ""


def test_tie_order_of_a_learners_sort_does_not_matter():
    def rrf_any_tie_order(a, b, k):
        return sorted(ref_rrf([a, b], k=k), key=lambda item: (-item[1], [c for c in item[0]][::-1]))

    assert support.check_rrf(rrf_any_tie_order) == ""
    assert support.canonical([("b", 1.0), ("a", 1.0), ("c", 2.0)]) == [("c", 2.0), ("a", 1.0), ("b", 1.0)]


# ------------------------------------------------------------------------------------ misconceptions named


def test_untouched_functions_are_still_to_fill_in():
    def untouched(*args): ...

    for check in (
        support.check_cosine,
        support.check_rrf,
        support.check_min_max,
        support.check_convex,
        support.check_recall,
        support.check_mrr,
    ):
        assert support.TODO in check(untouched)


def test_cosine_as_raw_dot_product_is_named():
    assert "cosine on unnormalized vectors" in support.check_cosine(lambda u, v: float(u @ v))


def test_rrf_with_ranks_from_zero_is_named():
    def rrf_from_zero(a, b, k):
        fused = {}
        for ranking in (a, b):
            for rank, (doc, _) in enumerate(ranking):
                fused[doc] = fused.get(doc, 0.0) + 1 / (k + rank)
        return sorted(fused.items(), key=lambda item: -item[1])

    assert "Ranks off by one in RRF" in support.check_rrf(rrf_from_zero, seeds=())


def test_rrf_that_keeps_only_the_better_list_is_named():
    def rrf_max(a, b, k):
        fused = {}
        for ranking in (a, b):
            for rank, (doc, _) in enumerate(ranking, start=1):
                fused[doc] = max(fused.get(doc, 0.0), 1 / (k + rank))
        return sorted(fused.items(), key=lambda item: -item[1])

    assert "SUM of its two reciprocal ranks" in support.check_rrf(rrf_max)


def test_rrf_unsorted_output_is_named():
    assert "best first" in support.check_rrf(lambda a, b, k: ref_rrf([a, b], k=k)[::-1])


def test_convex_on_raw_scores_is_named():
    message = support.check_convex(lambda a, b, w: ref_convex(a, b, w, normalize=False), seeds=())
    assert "Fusing unnormalized scores" in message


def test_convex_with_swapped_weight_is_named():
    assert "weight is swapped" in support.check_convex(lambda a, b, w: ref_convex(a, b, 1 - w))


def test_convex_dropping_one_sided_documents_is_named():
    def intersection_only(a, b, w):
        both = set(dict(a)) & set(dict(b))
        return [(d, s) for d, s in ref_convex(a, b, w) if d in both]

    assert "dropped documents" in support.check_convex(intersection_only, seeds=())


def test_min_max_dividing_by_zero_on_equal_scores_is_named():
    def naive(ranking):
        scores = [s for _, s in ranking]
        return {d: (s - min(scores)) / (max(scores) - min(scores)) for d, s in ranking}

    assert "max - min is 0" in support.check_min_max(naive, seeds=())


def test_recall_divided_by_k_is_named():
    message = support.check_recall(lambda ranked, rel, k: len(set(ranked[:k]) & set(rel)) / k, seeds=())
    assert "recall divided by k instead of by the number of relevant documents" in message


def test_mrr_beyond_k_is_named():
    def mrr_ignoring_k(ranked, rel, k):
        return next((1 / r for r, d in enumerate(ranked, start=1) if d in rel), 0.0)

    assert "MRR not zero when nothing relevant is in the top k" in support.check_mrr(mrr_ignoring_k, seeds=())


def test_mrr_with_ranks_from_zero_is_named():
    def mrr_from_zero(ranked, rel, k):
        return next((1 / r for r, d in enumerate(ranked[:k]) if d in rel), 0.0)

    assert "off by one: ranks start at 1" in support.check_mrr(mrr_from_zero, seeds=())


# ------------------------------------------------------------------------------------ tuning


def _split(name, relevant):
    """One query; BM25 puts x first, dense puts r first; the relevant document decides the best weight."""
    return support.LabSplit(
        "tiny",
        name,
        ["q"],
        ["a question"],
        {"q": {relevant: 1}},
        [[("x", 5.0), ("r", 1.0)]],
        [[("r", 0.9), ("x", 0.1)]],
    )


def test_best_weight_rule_prefers_mrr_then_recall_then_the_smaller_weight():
    table = {
        0.2: {"mrr@10": 0.5, "recall@10": 1.0},
        0.4: {"mrr@10": 0.9, "recall@10": 0.8},
        0.6: {"mrr@10": 0.9, "recall@10": 0.8},
        0.8: {"mrr@10": 0.9, "recall@10": 0.7},
    }
    assert support.best_weight(table) == 0.4
    with pytest.raises(ValueError, match="table must hold at least one weight"):
        support.best_weight({})


def test_tuning_on_the_test_split_is_named():
    dev, test = _split("dev", "r"), _split("test", "x")
    assert support.best_weight(support.weight_table(dev)) == 0.5  # tie at 0.5 broken by doc id: r first
    assert support.best_weight(support.weight_table(test)) == 0.0
    assert support.check_tuned_weight(0.5, dev, test) == ""
    assert "tuning on the test split" in support.check_tuned_weight(0.0, dev, test)
    assert "picks 0.5" in support.check_tuned_weight(0.9, dev, test)
    assert support.TODO in support.check_tuned_weight(..., dev, test)


def test_test_score_compares_with_the_dev_tuned_reference():
    dev, test = _split("dev", "r"), _split("test", "x")
    assert support.check_test_score(ref_convex, 0.5, dev, test) == ""
    assert "reference" in support.check_test_score(ref_convex, 0.0, dev, test)


def test_load_split_names_the_split_argument():
    with pytest.raises(ValueError, match=r"split must be one of \['dev', 'test'\]"):
        support.load_split("train")


# ------------------------------------------------------------------------------------ real data, end to end


@pytest.mark.slow
def test_dev_split_has_both_rankings_for_every_question():
    dev = support.load_split("dev")
    assert len(dev.query_ids) == 124 and len(dev.bm25) == len(dev.dense) == 124
    assert all(0 < len(r) <= support.DEPTH for r in dev.bm25 + dev.dense)
    assert max(s for r in dev.dense for _, s in r) <= 1.0 + 1e-6 < max(s for r in dev.bm25 for _, s in r)


def _replace_in_cell(nb, cell_id, old, new):
    cell = next(c for c in nb.cells if c.get("id") == cell_id)
    assert old in cell.source, f"{old!r} not in cell {cell_id}"
    cell.source = cell.source.replace(old, new)


@pytest.mark.slow
def test_graded_mistakes_cost_their_points_and_name_the_misconception(tmp_path):
    nb = nbformat.read(labs.autograder(LAB)["autograder_notebook"], as_version=4)
    _replace_in_cell(nb, "q1-answer", "u @ v / (np.linalg.norm(u) * np.linalg.norm(v))", "u @ v")
    _replace_in_cell(nb, "q2-answer", "enumerate(ranking, start=1)", "enumerate(ranking)")
    _replace_in_cell(nb, "q3-answer", "min_max(bm25), min_max(dense)", "dict(bm25), dict(dense)")
    _replace_in_cell(nb, "q4-answer", "/ len(positives)", "/ k")
    _replace_in_cell(nb, "q4-answer", "enumerate(ranked[:k], start=1)", "enumerate(ranked, start=1)")
    _replace_in_cell(nb, "q5-answer", "best_weight = tune_weight(dev)", "best_weight = 0.3")
    _replace_in_cell(nb, "q6-answer", 'q6_setup = "c"', 'q6_setup = "b"')
    submission = tmp_path / f"{LAB}.ipynb"
    nbformat.write(nb, submission)
    result = labs.grade(LAB, submission)
    q = result["questions"]
    assert not any(r["passed"] for r in q.values())
    assert "cosine on unnormalized vectors" in q["q1"]["feedback"]
    assert "Ranks off by one in RRF" in q["q2"]["feedback"]
    assert "Fusing unnormalized scores" in q["q3"]["feedback"]
    assert "recall divided by k" in q["q4"]["feedback"]
    assert "MRR not zero when nothing relevant is in the top k" in q["q4"]["feedback"]
    assert "tuning on the test split" in q["q5"]["feedback"]
    assert "Raw-score fusion" in q["q6"]["feedback"]
    assert "Ranks off by one in RRF" in result["public_feedback"]


def test_strings_that_look_like_numbers_are_not_numbers():
    def cosine_as_text(u, v):
        return f"{float(u @ v / np.linalg.norm(u) / np.linalg.norm(v)):.6f}"

    assert "must return one number, got str" in support.check_cosine(cosine_as_text)
    assert "got str" in support.check_recall(lambda ranked, relevant, k: str(ref_recall(ranked, relevant, k)))
    assert "got bool" in support.check_mrr(lambda ranked, relevant, k: True)
    assert "to a number" in support.check_min_max(
        lambda ranking: {d: str(s) for d, s in ref_min_max(ranking).items()}
    )
    assert (
        support.is_number(np.float32(0.5))
        and support.is_number(np.array(0.5))
        and not support.is_number("0.5")
    )
