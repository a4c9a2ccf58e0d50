"""Chunkers: fixed-size token windows, structure-aware (reST blocks within a section, heading
trail kept as context) and sentence windows, plus the page model that lets them be compared.

Every chunk remembers where it came from (document, character span, sections it covers), so
recall can be measured against gold sections whatever the strategy. Code blocks and tables
are atomic in the structure-aware chunker: a block longer than the size becomes one
oversized chunk instead of being cut in the middle.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import NamedTuple

import numpy as np

STRATEGIES = ("fixed", "structure", "sentence")
DEFAULT_SIZE = 256
DEFAULT_OVERLAP = 32
MAX_SIZE = 4096


class Chunk(NamedTuple):
    """A piece of a document: its text, the heading trail it sits under, and where it came from."""

    chunk_id: str
    doc_id: str
    text: str
    context: str
    start: int
    end: int
    section_ids: tuple[str, ...]

    @property
    def indexed_text(self) -> str:
        """What a retriever indexes: the heading trail (if any) followed by the text."""
        return f"{self.context}\n{self.text}" if self.context else self.text


class Block(NamedTuple):
    """A span of a section's text that is a paragraph, a code block or a table."""

    start: int
    end: int
    kind: str  # "paragraph" | "code" | "table"

    @property
    def atomic(self) -> bool:
        return self.kind in ("code", "table")


class Page(NamedTuple):
    """A whole documentation page: its sections' titles and texts joined, and each section's span."""

    path: str
    text: str
    spans: tuple[tuple[str, int, int], ...]  # (section id, start, end) in text


# ------------------------------------------------------------------------------------------- tokens
@lru_cache(maxsize=1)
def _tokenizer():
    from tokenizers import Tokenizer

    from ragft.runtime.models import embedder_path

    tokenizer = Tokenizer.from_file(str(embedder_path() / "tokenizer.json"))
    tokenizer.no_truncation()  # the file truncates at 128 tokens; chunk sizes need the full count
    tokenizer.no_padding()
    return tokenizer


_OFFSETS_CACHE: dict[str, np.ndarray] = {}
_OFFSETS_CACHE_MAX = 32768


def _remember(text: str, offsets: np.ndarray) -> np.ndarray:
    if len(_OFFSETS_CACHE) >= _OFFSETS_CACHE_MAX:
        _OFFSETS_CACHE.clear()
    offsets.setflags(write=False)
    _OFFSETS_CACHE[text] = offsets
    return offsets


def _offsets_array(text: str) -> np.ndarray:
    """Token spans of text as an (n, 2) int32 array, cached: a sweep re-chunks the same texts many times."""
    cached = _OFFSETS_CACHE.get(text)
    if cached is not None:
        return cached
    if not text:
        return np.zeros((0, 2), dtype=np.int32)
    spans = _tokenizer().encode(text, add_special_tokens=False).offsets
    return _remember(text, np.asarray(spans, dtype=np.int32).reshape(-1, 2))


def _joined_offsets(parts: Sequence[str], separator: str) -> np.ndarray:
    """Token spans of separator.join(parts) from each part's own spans (white space separates them,
    and word-piece tokens never cross white space), so a page costs no second tokenization."""
    arrays, offset = [], 0
    for part in parts:
        arrays.append(_offsets_array(part) + offset)
        offset += len(part) + len(separator)
    return np.concatenate(arrays) if arrays else np.zeros((0, 2), dtype=np.int32)


def token_offsets(text: str) -> list[tuple[int, int]]:
    """Character spans of the embedder's word-piece tokens in text (no special tokens).

    Chunk sizes are counted in the tokens of the model that will embed the chunks, so that
    "256 tokens" means what MiniLM's 256-token limit means.
    """
    return [(int(s), int(e)) for s, e in _offsets_array(text)]


def count_tokens(text: str) -> int:
    """Number of embedder tokens in text (not cached unless a chunker tokenized this text already)."""
    cached = _OFFSETS_CACHE.get(text)
    if cached is not None:
        return len(cached)
    return len(_tokenizer().encode(text, add_special_tokens=False).ids) if text else 0


def tokens_in_span(text: str, start: int, end: int) -> int:
    """Tokens of text inside [start, end): a chunk's size, counted from its source's cached tokens."""
    if not 0 <= start <= end <= len(text):
        raise ValueError(
            f"start and end must satisfy 0 <= start <= end <= {len(text)}, got {start} and {end}"
        )
    return _tokens_between(_offsets_array(text), start, end)


def _tokens_between(offsets: np.ndarray, start: int, end: int) -> int:
    """Tokens of a text that lie inside its span [start, end), from the text's own token spans.

    Pieces start and end at white space, where word-piece tokenization is the same in or out of
    context, so this equals count_tokens(text[start:end]) without tokenizing again.
    """
    first = int(np.searchsorted(offsets[:, 0], start, side="left"))
    last = int(np.searchsorted(offsets[:, 1], end, side="right"))
    return max(0, last - first)


def _check_size(size: int, overlap: int, unit: str = "tokens") -> None:
    if not 1 <= size <= MAX_SIZE:
        raise ValueError(f"size must be between 1 and {MAX_SIZE} {unit}, got {size}")
    if not 0 <= overlap < size:
        raise ValueError(
            f"overlap must be >= 0 and smaller than size ({size}), got {overlap}: "
            "an overlap as large as the chunk would never move forward"
        )


# ------------------------------------------------------------------------------------------- pages
def build_pages(sections: Sequence[dict]) -> list[Page]:
    """Join each page's sections (in order) into one text: title line, blank line, body (a section
    without a title contributes its body alone)."""
    by_path: dict[str, list[dict]] = {}
    for section in sections:
        by_path.setdefault(section["path"], []).append(section)
    pages = []
    for path, members in by_path.items():
        parts, spans, offset = [], [], 0
        for section in sorted(members, key=lambda s: s["order"]):
            piece = "\n\n".join(part for part in (section["title"], section["text"]) if part)
            spans.append((section["id"], offset, offset + len(piece)))
            parts.append(piece)
            offset += len(piece) + 2
        text = "\n\n".join(parts)
        if text not in _OFFSETS_CACHE:
            pieces = [p for part in parts for p in part.split("\n\n", 1)]  # title, body: each cached
            _remember(text, _joined_offsets(pieces, "\n\n"))
        pages.append(Page(path, text, tuple(spans)))
    return pages


def covered_sections(page: Page, start: int, end: int) -> tuple[str, ...]:
    """Sections a span of the page covers: those sharing at least half of the shorter of the two."""
    found = []
    for section_id, s_start, s_end in page.spans:
        shared = min(end, s_end) - max(start, s_start)
        if shared > 0 and shared * 2 >= min(end - start, s_end - s_start):
            found.append(section_id)
    return tuple(found)


# ------------------------------------------------------------------------------------------- fixed
def fixed_size_chunks(
    doc_id: str, text: str, size: int = DEFAULT_SIZE, overlap: int = DEFAULT_OVERLAP, page: Page | None = None
) -> list[Chunk]:
    """Windows of `size` tokens, each starting `size - overlap` tokens after the previous one.

    Blind to structure: a window can start mid-sentence or mid-code-block. That is the point of
    the baseline.
    """
    _check_size(size, overlap)
    offsets = _offsets_array(text)
    chunks: list[Chunk] = []
    step = size - overlap
    for first in range(0, max(len(offsets) - overlap, 1), step):
        window = offsets[first : first + size]
        if not len(window):
            break
        start, end = int(window[0][0]), int(window[-1][1])
        sections = covered_sections(page, start, end) if page else (doc_id,)
        chunks.append(Chunk(f"{doc_id}#f{len(chunks)}", doc_id, text[start:end], "", start, end, sections))
    return chunks


# ------------------------------------------------------------------------------------------- blocks
_DIRECTIVE = re.compile(r"^\.\. (?P<kind>[\w:-]+)::")
_CODE_DIRECTIVES = {"code-block", "code", "sourcecode", "console", "parsed-literal", "doctest", "highlight"}
_TABLE_DIRECTIVES = {"table", "list-table", "csv-table"}
_TABLE_BORDER = re.compile(r"^\s*(?:\+[-=+]+\+|=+(?: +=+)+)\s*$")
_SIMPLE_BORDER = re.compile(r"^\s*=+(?: +=+)+\s*$")
_SIMPLE_BORDER_LINES = re.compile(r"^[ \t]*=+(?: +=+)+[ \t]*$", re.M)


def _paragraphs(text: str) -> list[tuple[int, int]]:
    """Spans of runs of non-blank lines."""
    return [(m.start(), m.end()) for m in re.finditer(r"(?:[^\n]*\S[^\n]*(?:\n|$))+", text)]


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def split_blocks(text: str) -> list[Block]:
    """Split a section's reST into paragraphs, code blocks and tables (never cut inside the last two).

    A code block is a directive like `.. code-block::` or a paragraph ending in `::`, together
    with the indented paragraphs that follow it; a table is a grid or simple table or a table
    directive with its body.
    """
    spans = _paragraphs(text)
    blocks: list[Block] = []
    i = 0
    while i < len(spans):
        start, end = spans[i]
        chunk = text[start:end]
        first = chunk.split("\n", 1)[0]
        directive = _DIRECTIVE.match(first.strip())
        kind = "paragraph"
        if directive and directive.group("kind") in _CODE_DIRECTIVES | _TABLE_DIRECTIVES:
            kind = "code" if directive.group("kind") in _CODE_DIRECTIVES else "table"
        elif chunk.rstrip().endswith("::") and not directive:
            kind = "code"
        elif _TABLE_BORDER.match(first):
            kind = "table"
        i += 1
        if kind in ("code", "table"):
            base = _indent(first)
            # The body: following paragraphs indented deeper than the opening line.
            while i < len(spans) and _indent(text[spans[i][0] : spans[i][1]].split("\n", 1)[0]) > base:
                end = spans[i][1]
                i += 1
            if kind == "table" and _SIMPLE_BORDER.match(first):
                # A simple table ends at its third border line; blank lines inside cells can split it.
                borders = len(_SIMPLE_BORDER_LINES.findall(text, start, end))
                while borders < 3 and i < len(spans):
                    borders += len(_SIMPLE_BORDER_LINES.findall(text, *spans[i]))
                    end = spans[i][1]
                    i += 1
        blocks.append(Block(start, end, kind))
    return blocks


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`*\"'(:])")


def _sentence_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans, cursor = [], start
    for match in _SENTENCE_END.finditer(text, start, end):
        spans.append((cursor, match.start()))
        cursor = match.end()
    spans.append((cursor, end))
    return [(s, e) for s, e in spans if text[s:e].strip()]


def _pieces(text: str, size: int) -> list[tuple[int, int, bool, int]]:
    """Blocks as (start, end, atomic, tokens), with paragraphs longer than size cut at sentence ends
    (then at tokens). Code blocks and tables stay whole whatever their length."""
    offsets = _offsets_array(text)
    pieces = []
    for block in split_blocks(text):
        block_end = block.start + len(text[block.start : block.end].rstrip())
        tokens = _tokens_between(offsets, block.start, block_end)
        if block.atomic or tokens <= size:
            pieces.append((block.start, block_end, block.atomic, tokens))
            continue
        for s, e in _sentence_spans(text, block.start, block_end):
            first = int(np.searchsorted(offsets[:, 0], s, side="left"))
            last = int(np.searchsorted(offsets[:, 1], e, side="right"))
            for lo in range(first, last, size):
                hi = min(lo + size, last)
                pieces.append((int(offsets[lo][0]), int(offsets[hi - 1][1]), False, hi - lo))
    return pieces


# ------------------------------------------------------------------------------------------- structure
def structure_chunks(
    doc_id: str,
    text: str,
    context: str = "",
    size: int = DEFAULT_SIZE,
    overlap: int = DEFAULT_OVERLAP,
    section_ids: tuple[str, ...] | None = None,
) -> list[Chunk]:
    """Pack whole blocks into chunks of at most `size` tokens; repeat the last blocks (up to
    `overlap` tokens) at the start of the next chunk. Code blocks and tables are never split.

    `context` (the heading trail) is not counted in the size; it is prepended when indexing.
    """
    _check_size(size, overlap)
    pieces = _pieces(text, size)
    tokens = [piece[3] for piece in pieces]
    chunks: list[Chunk] = []
    ids = section_ids if section_ids is not None else (doc_id,)
    i = 0
    while i < len(pieces):
        j, total = i, 0
        while j < len(pieces) and (j == i or total + tokens[j] <= size):
            total += tokens[j]
            j += 1
        start, end = pieces[i][0], pieces[j - 1][1]
        chunks.append(Chunk(f"{doc_id}#s{len(chunks)}", doc_id, text[start:end], context, start, end, ids))
        if j >= len(pieces):
            break
        # Overlap: step back over trailing whole pieces that fit in `overlap` tokens, never to i, and only
        # if the next piece still fits after them (else the next chunk would repeat them and add nothing).
        back, carried = j, 0
        while back - 1 > i and carried + tokens[back - 1] <= overlap:
            back -= 1
            carried += tokens[back]
        i = back if carried + tokens[j] <= size else j
    return chunks


def section_context(section: dict) -> str:
    """The heading trail of a section, e.g. 'Settings > Core Settings > DEFAULT_AUTO_FIELD'."""
    return " > ".join(section.get("trail") or [section.get("title", "")])


# ------------------------------------------------------------------------------------------- sentences
@lru_cache(maxsize=4096)
def _all_sentences(text: str) -> tuple[tuple[int, int], ...]:
    """Sentence spans of every paragraph of text (cached: a sweep asks for the same pages again)."""
    return tuple(s for block in _paragraphs(text) for s in _sentence_spans(text, *block))


def sentence_window_chunks(
    doc_id: str, text: str, size: int = 3, overlap: int = 1, page: Page | None = None
) -> list[Chunk]:
    """Windows of `size` sentences, each starting `size - overlap` sentences after the previous one."""
    _check_size(size, overlap, unit="sentences")
    sentences = _all_sentences(text)
    chunks: list[Chunk] = []
    for first in range(0, max(len(sentences) - overlap, 1), size - overlap):
        window = sentences[first : first + size]
        if not window:
            break
        start, end = window[0][0], window[-1][1]
        sections = covered_sections(page, start, end) if page else (doc_id,)
        chunks.append(Chunk(f"{doc_id}#w{len(chunks)}", doc_id, text[start:end], "", start, end, sections))
    return chunks


# ------------------------------------------------------------------------------------------- corpus
def chunk_corpus(
    sections: Sequence[dict], strategy: str = "structure", size: int | None = None, overlap: int | None = None
) -> list[Chunk]:
    """Chunk a list of corpus sections with one strategy.

    fixed and sentence run over whole pages (structure ignored); structure runs per section and
    keeps its heading trail. Sizes are tokens, except for sentence windows (sentences).
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {list(STRATEGIES)}, got {strategy!r}")
    if strategy == "structure":
        size = DEFAULT_SIZE if size is None else size
        overlap = DEFAULT_OVERLAP if overlap is None else overlap
        chunks = []
        for section in sections:
            if section["text"].strip():
                chunks += structure_chunks(
                    section["id"], section["text"], section_context(section), size, overlap, (section["id"],)
                )
        return chunks
    chunker = fixed_size_chunks if strategy == "fixed" else sentence_window_chunks
    defaults = (DEFAULT_SIZE, DEFAULT_OVERLAP) if strategy == "fixed" else (3, 1)
    size = defaults[0] if size is None else size
    overlap = defaults[1] if overlap is None else overlap
    chunks = []
    for page in build_pages(sections):
        chunks += chunker(page.path, page.text, size, overlap, page=page)
    return chunks


def chunk_document(
    doc_id: str, text: str, title: str = "", size: int = DEFAULT_SIZE, overlap: int = DEFAULT_OVERLAP
) -> list[Chunk]:
    """The course's default chunker for any document: structure-aware, title as context.

    A document that fits in `size` tokens stays whole.
    """
    if not text.strip():
        return [Chunk(f"{doc_id}#s0", doc_id, title, "", 0, 0, (doc_id,))] if title.strip() else []
    return structure_chunks(doc_id, text, title, size, overlap, (doc_id,))


def chunks_by_section(chunks: Iterable[Chunk]) -> dict[str, list[Chunk]]:
    """Index chunks by every section they cover."""
    index: dict[str, list[Chunk]] = {}
    for chunk in chunks:
        for section_id in chunk.section_ids:
            index.setdefault(section_id, []).append(chunk)
    return index
