"""The chunk explorer of notebook 02: chunk boundaries drawn on one page, and whether a gold passage
survives whole. Pure functions compute everything; ChunkExplorer only holds the controls.

Positions are characters of the page text (ragft.retrieval.chunking.build_pages): structure-aware chunks,
which are cut per section, are moved to page positions so all strategies draw on the same axis.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from ragft.retrieval.chunking import MAX_SIZE, Page, build_pages, chunk_corpus

EXPLORER_STRATEGIES = ("fixed", "structure")  # token sizes; sentence windows count sentences instead
SIZE_RANGE = (32, 1024)


class Survival(NamedTuple):
    """How a gold passage fares: kept whole by one chunk, or spread over several."""

    whole: bool
    chunks_touching: int
    best_share: float  # largest share of the passage inside a single chunk


def page_sections(sections: Sequence[dict], path: str) -> list[dict]:
    """The sections of one page, in order."""
    found = sorted((s for s in sections if s["path"] == path), key=lambda s: s["order"])
    if not found:
        raise ValueError(f"path must be a page of the corpus (e.g. 'faq/general.txt'), got {path!r}")
    return found


def check_overlap(size: int, overlap: int) -> int:
    """The overlap the sliders may hold for a size: clamped to [0, size - 1] (never the whole chunk)."""
    if not 1 <= size <= MAX_SIZE:
        raise ValueError(f"size must be between 1 and {MAX_SIZE}, got {size}")
    return max(0, min(overlap, size - 1))


def body_offsets(page: Page, sections: Sequence[dict]) -> dict[str, int]:
    """Where each section's body starts in the page text (after its title and a blank line)."""
    titles = {s["id"]: s["title"] for s in sections}
    return {sid: start + len(titles[sid]) + 2 for sid, start, _ in page.spans}


def page_chunk_spans(sections: Sequence[dict], strategy: str, size: int, overlap: int) -> tuple[Page, list]:
    """The page of these sections and its chunks' (start, end) in page characters, in order."""
    if strategy not in EXPLORER_STRATEGIES:
        raise ValueError(f"strategy must be one of {list(EXPLORER_STRATEGIES)}, got {strategy!r}")
    pages = build_pages(sections)
    if len(pages) != 1:
        raise ValueError(f"sections must come from one page, got {len(pages)} pages")
    page = pages[0]
    chunks = chunk_corpus(sections, strategy, size, overlap)
    if strategy == "fixed":
        return page, [(c.start, c.end) for c in chunks]
    starts = body_offsets(page, sections)
    return page, [(starts[c.doc_id] + c.start, starts[c.doc_id] + c.end) for c in chunks]


def gold_span(page: Page, sections: Sequence[dict], section_id: str) -> tuple[int, int]:
    """The gold passage on the page: the body of the gold section."""
    ends = {sid: end for sid, _, end in page.spans}
    if section_id not in ends:
        raise ValueError(f"section_id must be a section of {page.path}, got {section_id!r}")
    end = ends[section_id]
    start = min(body_offsets(page, sections)[section_id], end)
    return start, start + len(page.text[start:end].rstrip())


def survival(spans: Sequence[tuple[int, int]], gold: tuple[int, int]) -> Survival:
    """Whether one chunk holds the whole gold passage, how many chunks touch it, the best share."""
    g_start, g_end = gold
    length = max(1, g_end - g_start)
    shares = [(min(e, g_end) - max(s, g_start)) / length for s, e in spans if s < g_end and e > g_start]
    whole = any(s <= g_start and e >= g_end for s, e in spans)
    return Survival(whole, len(shares), max(shares, default=0.0))


def split_sections(page: Page, sections: Sequence[dict], spans: Sequence[tuple[int, int]]) -> list[str]:
    """Sections whose heading (the problem, e.g. an FAQ question) and body end (the solution) share no
    chunk, although the section is short enough for one chunk to hold both."""
    titles = {s["id"]: s for s in sections}
    split = []
    for sid, start, end in page.spans:
        if not titles[sid]["text"].strip():
            continue
        end = start + len(page.text[start:end].rstrip())  # chunks end at the last visible character
        heading_end = start + len(titles[sid]["title"])
        together = any(s <= start and heading_end <= e and e >= end for s, e in spans)
        longest = max((e - s for s, e in spans), default=0)
        if not together and end - start <= longest:
            split.append(sid)
    return split


def boundary_figure(
    page: Page, spans: Sequence[tuple[int, int]], gold: tuple[int, int] | None = None, title: str = ""
):
    """Chunks as bars over the page (lanes show overlap), section starts as grey lines, the gold
    passage as an orange band."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 2.8))
    ax = fig.subplots()
    lanes = 3
    for i, (s, e) in enumerate(spans):
        ax.barh(i % lanes, e - s, left=s, height=0.7, color=f"C{i % 10}", alpha=0.8)
    for _, start, _ in page.spans:
        ax.axvline(start, color="grey", linewidth=0.5)
    if gold is not None:
        ax.axvspan(*gold, color="orange", alpha=0.3, label="gold passage")
        ax.legend(loc="upper right", fontsize=8)
    ax.set_yticks(range(lanes), [f"lane {i + 1}" for i in range(lanes)])
    ax.set_xlim(0, len(page.text))
    ax.set_title(title or f"Chunks of {page.path}")
    ax.set_xlabel("position in the page (characters); grey lines: section starts")
    ax.set_ylabel("chunks (cycling lanes)")
    fig.tight_layout()
    return fig


def explore(sections: Sequence[dict], strategy: str, size: int, overlap: int, gold_id: str) -> dict:
    """Everything the explorer shows for one setting: page, spans, gold span, survival and a summary line."""
    path = next((s["path"] for s in sections if s["id"] == gold_id), None)
    if path is None:
        raise ValueError(f"gold_id must be a section id of the corpus, got {gold_id!r}")
    members = page_sections(sections, path)
    overlap = check_overlap(size, overlap)
    page, spans = page_chunk_spans(members, strategy, size, overlap)
    gold = gold_span(page, members, gold_id)
    fate = survival(spans, gold)
    verdict = (
        "survives whole in one chunk"
        if fate.whole
        else f"is split over {fate.chunks_touching} chunks (best one holds {fate.best_share:.0%})"
    )
    summary = f"{path}, {strategy} {size}/{overlap}: {len(spans)} chunks; the gold passage {verdict}"
    return {"page": page, "spans": spans, "gold": gold, "survival": fate, "summary": summary}


class ChunkExplorer:
    """Strategy, size and overlap controls and a question picker; the page's chunk map follows them."""

    def __init__(
        self, sections: Sequence[dict], questions: dict[str, str], size: int = 256, overlap: int = 32
    ):
        """questions: label -> gold section id (the page shown is the gold section's page)."""
        import ipywidgets as w

        if not questions:
            raise ValueError("questions must not be empty")
        self.sections = list(sections)
        self.strategy = w.Dropdown(options=list(EXPLORER_STRATEGIES), value="fixed", description="strategy")
        self.size = w.IntSlider(
            value=size,
            min=SIZE_RANGE[0],
            max=SIZE_RANGE[1],
            step=32,
            description="size",
            continuous_update=False,
        )
        self.overlap = w.IntSlider(
            value=overlap, min=0, max=256, step=8, description="overlap", continuous_update=False
        )
        self.question = w.Dropdown(options=list(questions.items()), description="question")
        self.output = w.Output()
        self._quiet = False
        for control in (self.strategy, self.size, self.overlap, self.question):
            control.observe(lambda _change: self.refresh(), names="value")
        self.widget = w.VBox([w.HBox([self.strategy, self.size, self.overlap]), self.question, self.output])
        self.refresh()

    def set(self, **values) -> None:
        """Set any of strategy, size, overlap, question (a gold section id) from code, then refresh once."""
        unknown = set(values) - {"strategy", "size", "overlap", "question"}
        if unknown:
            raise ValueError(f"set() takes strategy, size, overlap, question; got {sorted(unknown)}")
        self._quiet = True
        try:
            for name, value in values.items():
                getattr(self, name).value = value
        finally:
            self._quiet = False
        self.refresh()

    def state(self) -> dict:
        """What the explorer shows now (page, spans, gold, survival, summary)."""
        return explore(
            self.sections, self.strategy.value, self.size.value, self.overlap.value, self.question.value
        )

    def refresh(self) -> None:
        if self._quiet:
            return
        from ragft.widgets.render import render

        state = self.state()
        render(
            self.output,
            state["summary"],
            boundary_figure(state["page"], state["spans"], state["gold"], state["summary"]),
        )
