"""ragft.widgets.chunk_views on a one-page corpus: spans on the page, a gold passage's fate, the explorer."""

import pytest

from ragft.widgets import chunk_views as V

SECTIONS = [
    {
        "id": "p#q",
        "path": "faq.txt",
        "title": "How do I do it?",
        "trail": ["FAQ", "How do I do it?"],
        "text": "Like this::\n\n    do_it()\n    do_it_again()\n\nThat is all there is to it, really.",
        "order": 0,
    },
    {
        "id": "p#r",
        "path": "faq.txt",
        "title": "Why?",
        "trail": ["FAQ", "Why?"],
        "text": "Because it is documented. " * 6,
        "order": 1,
    },
]


def test_spans_are_page_positions_for_both_strategies():
    for strategy in V.EXPLORER_STRATEGIES:
        page, spans = V.page_chunk_spans(SECTIONS, strategy, 16, 4)
        assert spans and all(0 <= s < e <= len(page.text) for s, e in spans)
    page, spans = V.page_chunk_spans(SECTIONS, "structure", 256, 0)
    assert page.text[spans[0][0] :].startswith("Like this::")
    with pytest.raises(ValueError, match="strategy must be one of"):
        V.page_chunk_spans(SECTIONS, "sentence", 3, 1)


def test_survival_whole_split_and_best_share():
    assert V.survival([(0, 10)], (2, 8)) == V.Survival(True, 1, 1.0)
    fate = V.survival([(0, 5), (5, 10)], (2, 8))
    assert not fate.whole and fate.chunks_touching == 2 and fate.best_share == 0.5


def test_check_overlap_clamps_below_the_size():
    assert V.check_overlap(64, 100) == 63 and V.check_overlap(64, -3) == 0
    with pytest.raises(ValueError, match="size must be between"):
        V.check_overlap(0, 0)


def test_split_sections_finds_a_question_cut_from_its_answer():
    page, spans = V.page_chunk_spans(SECTIONS, "fixed", 20, 0)
    assert "p#q" in V.split_sections(page, SECTIONS, spans)
    page, spans = V.page_chunk_spans(SECTIONS, "fixed", 512, 0)
    assert V.split_sections(page, SECTIONS, spans) == []


def test_explore_and_the_widget_driven_from_code():
    state = V.explore(SECTIONS, "structure", 256, 300, "p#q")
    assert state["survival"].whole and "survives whole" in state["summary"]
    with pytest.raises(ValueError, match="gold_id"):
        V.explore(SECTIONS, "fixed", 64, 8, "nope")
    explorer = V.ChunkExplorer(SECTIONS, {"How?": "p#q", "Why?": "p#r"}, size=32, overlap=8)
    explorer.set(strategy="fixed", size=32, overlap=0, question="p#r")
    assert explorer.state()["summary"].startswith("faq.txt, fixed 32/0")
    with pytest.raises(ValueError, match="set\\(\\) takes"):
        explorer.set(colour="red")
    fig = V.boundary_figure(state["page"], state["spans"], state["gold"])
    assert fig.axes[0].get_xlabel().startswith("position in the page")
