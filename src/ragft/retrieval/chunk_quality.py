"""A chunk-quality validator: the defects that make a chunk useless or misleading to a retriever.

Each chunk is checked against the text it was cut from (a whole page for fixed and sentence
windows, one section for structure-aware chunks), so the checks can see what a chunk cut through:
- empty: no visible text;                     - tiny: fewer than `min_tokens` tokens;
- split_code / split_table: the chunk holds part of a code block or table, not all of it;
- orphaned_heading: a section heading at the chunk's end with (almost) none of its body;
- no_heading: neither a heading trail as context nor a heading in the text: the chunk does not say
  what it is about;
- duplicate: the same indexed text as an earlier chunk (the retriever cannot tell them apart);
- redundant: the chunk's span lies inside the previous chunk's span of the same document (overlap
  that carried everything and added nothing);
- oversized: more tokens than `max_tokens` (an atomic block longer than the size).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from ragft.retrieval.chunking import Chunk, build_pages, split_blocks, tokens_in_span

PROBLEMS = (
    "empty",
    "tiny",
    "split_code",
    "split_table",
    "orphaned_heading",
    "no_heading",
    "duplicate",
    "redundant",
    "oversized",
)
MIN_TOKENS = 16
ORPHAN_BODY_TOKENS = 16  # a heading followed by fewer body tokens than this (and not its whole body)
_SPACES = re.compile(r"\s+")


class Source(NamedTuple):
    """The text chunks were cut from, with its headings as (start, end of title, end of section body)."""

    text: str
    headings: tuple[tuple[int, int, int], ...] = ()


class Issue(NamedTuple):
    """One defect of one chunk."""

    chunk_id: str
    problem: str
    detail: str


def corpus_sources(sections: Sequence[dict], strategy: str) -> dict[str, Source]:
    """The sources chunk_corpus cut from: sections for 'structure', whole pages (with headings) otherwise."""
    if strategy == "structure":
        return {s["id"]: Source(s["text"]) for s in sections}
    titles = {s["id"]: s["title"] for s in sections}
    sources = {}
    for page in build_pages(sections):
        headings = tuple((start, start + len(titles[sid]), end) for sid, start, end in page.spans)
        sources[page.path] = Source(page.text, headings)
    return sources


def _atomic_spans(text: str) -> list[tuple[int, int, str]]:
    spans = []
    for block in split_blocks(text):
        if block.atomic:
            end = block.start + len(text[block.start : block.end].rstrip())
            spans.append((block.start, end, block.kind))
    return spans


def chunk_issues(
    chunk: Chunk,
    source: Source,
    atomic: Sequence[tuple[int, int, str]] = (),
    min_tokens: int = MIN_TOKENS,
    max_tokens: int | None = None,
) -> list[Issue]:
    """Every defect of one chunk except duplicates (which need the other chunks)."""
    found: list[Issue] = []
    if not chunk.text.strip():
        return [Issue(chunk.chunk_id, "empty", "no visible text")]
    tokens = tokens_in_span(source.text, chunk.start, chunk.end)
    if tokens < min_tokens:
        found.append(Issue(chunk.chunk_id, "tiny", f"{tokens} tokens < {min_tokens}"))
    if max_tokens is not None and tokens > max_tokens:
        found.append(Issue(chunk.chunk_id, "oversized", f"{tokens} tokens > {max_tokens}"))
    for start, end, kind in atomic:
        if start < chunk.end and end > chunk.start and not (chunk.start <= start and chunk.end >= end):
            first_line = source.text[start:end].split("\n", 1)[0].strip()
            found.append(
                Issue(chunk.chunk_id, f"split_{kind}", f"cuts the {kind} block starting {first_line[:60]!r}")
            )
            break
    heading_in_text = False
    for h_start, h_end, body_end in source.headings:
        if chunk.start <= h_start and h_end <= chunk.end:
            heading_in_text = True
            body_start = min(h_end + 2, body_end)
            body_total = tokens_in_span(source.text, body_start, body_end)
            body_here = tokens_in_span(source.text, body_start, max(body_start, min(body_end, chunk.end)))
            if body_total and body_here < min(ORPHAN_BODY_TOKENS, body_total):
                title = source.text[h_start:h_end]
                found.append(
                    Issue(
                        chunk.chunk_id,
                        "orphaned_heading",
                        f"{title[:60]!r} with {body_here} of its {body_total} body tokens",
                    )
                )
    if not chunk.context.strip() and not heading_in_text:
        found.append(
            Issue(chunk.chunk_id, "no_heading", "no heading trail as context and no heading in the text")
        )
    return found


def validate_chunks(
    chunks: Sequence[Chunk],
    sources: Mapping[str, Source],
    min_tokens: int = MIN_TOKENS,
    max_tokens: int | None = None,
) -> list[Issue]:
    """Every defect of every chunk, in chunk order (a chunk can have several)."""
    if min_tokens < 0:
        raise ValueError(f"min_tokens must be >= 0, got {min_tokens}")
    missing = {c.doc_id for c in chunks} - set(sources)
    if missing:
        raise ValueError(
            f"sources lacks the text of {len(missing)} chunk documents, e.g. {sorted(missing)[0]!r}"
        )
    atomic_by_doc: dict[str, list[tuple[int, int, str]]] = {}
    seen: dict[str, str] = {}
    issues: list[Issue] = []
    previous: Chunk | None = None
    for chunk in chunks:
        if previous is not None and previous.doc_id == chunk.doc_id:
            if previous.start <= chunk.start and chunk.end <= previous.end:
                issues.append(Issue(chunk.chunk_id, "redundant", f"inside {previous.chunk_id}"))
        previous = chunk
        if chunk.doc_id not in atomic_by_doc:
            atomic_by_doc[chunk.doc_id] = _atomic_spans(sources[chunk.doc_id].text)
        issues += chunk_issues(
            chunk, sources[chunk.doc_id], atomic_by_doc[chunk.doc_id], min_tokens, max_tokens
        )
        key = _SPACES.sub(" ", chunk.indexed_text).strip()
        if key and key in seen:
            issues.append(Issue(chunk.chunk_id, "duplicate", f"same indexed text as {seen[key]}"))
        elif key:
            seen[key] = chunk.chunk_id
    return issues


def count_problems(issues: Sequence[Issue]) -> dict[str, int]:
    """Chunks with each problem, every problem listed (0 when absent)."""
    counts = dict.fromkeys(PROBLEMS, 0)
    for issue in issues:
        counts[issue.problem] += 1
    return counts


def examples(issues: Sequence[Issue], problem: str, n: int = 1) -> list[Issue]:
    """The first n issues of one problem."""
    if problem not in PROBLEMS:
        raise ValueError(f"problem must be one of {list(PROBLEMS)}, got {problem!r}")
    return [i for i in issues if i.problem == problem][:n]
