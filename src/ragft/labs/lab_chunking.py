"""Support for lab_chunking: run a learner's section chunker safely, name the misconception a wrong
one shows, and measure it against the fixed-size baseline on the facts dev split.

The learner writes `chunk_section(text, trail, size, overlap) -> list[str]`: each returned string is
the heading trail (" > ".join(trail)) on its first line, then the chunk's text; whole reST blocks up
to `size` tokens (the trail not counted), code blocks and tables never split, the last blocks (up to
`overlap` tokens) repeated at the start of the next chunk, and a ValueError for a bad size or overlap.
"""

from __future__ import annotations

import signal
from collections.abc import Callable

from ragft.retrieval.chunking import Chunk, count_tokens, split_blocks

TIME_LIMIT_S = 3
K = 5
BASELINE = ("fixed", 256, 32)
# How many dev questions a chunker may find fewer than the baseline and still pass: a difference of one or
# two of 124 questions is noise (their intervals overlap almost entirely); a strict "beats" fails sound work.
RECALL_SLACK_QUESTIONS = 2

CODE_TEXT = (
    "Install the package, then add it to your settings::\n\n"
    "    INSTALLED_APPS = [\n"
    "        'django.contrib.admin',\n"
    "        'django.contrib.auth',\n"
    "        'django.contrib.contenttypes',\n"
    "        'polls.apps.PollsConfig',\n"
    "    ]\n\n"
    "Run the migrations afterwards. They create the tables the apps need.\n"
)
PARAGRAPHS = "\n\n".join(
    f"Paragraph number {i} explains one more small step of the tutorial." for i in range(8)
)
UNICODE_TEXT = "Ünïcödé names like café and 日本語 stay as they are.\n\nA second paragraph — with a dash."
TRAIL = ["How-to", "Install", "Settings"]

Chunker = Callable[[str, list, int, int], list]


class ChunkerTimeout(Exception):
    """The chunker ran past the time limit (most likely an endless loop)."""


def call(chunker: Chunker, text: str, trail: list[str], size: int, overlap: int, limit: float = TIME_LIMIT_S):
    """Call the chunker with a time limit (SIGALRM, main thread): ChunkerTimeout if it never returns."""

    def _stop(_signum, _frame):
        raise ChunkerTimeout(f"chunk_section did not return within {limit} s")

    previous = signal.signal(signal.SIGALRM, _stop)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        return chunker(text, list(trail), size, overlap)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def header(trail: list[str]) -> str:
    return " > ".join(trail)


def body(chunk: str, trail: list[str]) -> str:
    """The chunk without its trail line (if it has one)."""
    first, _, rest = chunk.partition("\n")
    return rest if first == header(trail) else chunk


def shape_problem(result) -> str:
    """'' when result is a list of strings, else what is wrong, naming a stub still to fill in."""
    if result is None or result is ...:
        return "chunk_section is still to fill in: it returns None; return a list of strings."
    if not isinstance(result, list) or not all(isinstance(c, str) for c in result):
        return f"chunk_section must return a list of strings, got {type(result).__name__}."
    return ""


def diagnose(chunker: Chunker, checks: tuple[str, ...] = ("shape", "trail", "code", "stuck")) -> list[str]:
    """Messages naming each misconception the chunker shows on small fixed inputs (empty: none found)."""
    messages: list[str] = []
    try:
        result = call(chunker, PARAGRAPHS, TRAIL, 24, 8)
    except ChunkerTimeout:
        return [
            "overlap >= chunk size in effect: the chunker never moves forward (it ran past the time limit)."
        ]
    except Exception as exc:  # noqa: BLE001 - the learner's code can raise anything; report it
        return [f"chunk_section raised {type(exc).__name__}: {exc}"]
    problem = shape_problem(result)
    if problem:
        return [problem]
    if "trail" in checks and (not result or not all(c.startswith(header(TRAIL) + "\n") for c in result)):
        messages.append(
            "Lost the heading trail: every chunk must start with ' > '.join(trail) on its own line; "
            "without it a chunk from the middle of a section does not say what it is about."
        )
    if "code" in checks:
        messages += _code_problems(chunker)
    if "stuck" in checks:
        messages += _stuck_problems(chunker)
    if "overlap" in checks:
        messages += _overlap_problems(chunker)
    if "sizes" in checks:
        messages += _size_problems(chunker)
    if "empty" in checks:
        messages += _empty_problems(chunker)
    if "unicode" in checks:
        messages += _unicode_problems(chunker)
    return messages


def _safe(chunker, *args):
    try:
        result = call(chunker, *args)
    except ChunkerTimeout:
        return (
            None,
            "overlap >= chunk size in effect: the chunker never moves forward (it ran past the time limit).",
        )
    except Exception as exc:  # noqa: BLE001
        return None, f"chunk_section{args[2:]} raised {type(exc).__name__}: {exc}"
    problem = shape_problem(result)
    return (None, problem) if problem else (result, "")


def _code_block(text: str) -> str:
    block = next(b for b in split_blocks(text) if b.kind == "code")
    return text[block.start : block.end].strip()


def _code_problems(chunker) -> list[str]:
    code = _code_block(CODE_TEXT)
    lines = [line.strip() for line in code.splitlines()[2:] if line.strip()]
    out = []
    for size in (16, 256):  # a size shorter than the block, and one that holds the whole section
        result, problem = _safe(chunker, CODE_TEXT, TRAIL, size, 0)
        if problem:
            return [problem]
        holders = [c for c in result if lines[0] in c]
        if not any(all(line in c for line in lines) for c in holders):
            out.append(
                f"Split inside a code block (size {size}): a code block (or table) is one block; "
                "when it is longer than the size, it becomes one oversized chunk, not two useless halves."
            )
            break
    return out


def _stuck_problems(chunker) -> list[str]:
    for overlap in (24, 30):
        try:
            call(chunker, PARAGRAPHS, TRAIL, 24, overlap)
        except ValueError as exc:
            if "overlap" not in str(exc).lower():
                return [
                    f"The ValueError for overlap={overlap} >= size=24 should name the overlap argument: {exc}"
                ]
            continue
        except ChunkerTimeout:
            return ["overlap >= chunk size: the chunker never moves forward. Refuse it with a ValueError."]
        except Exception as exc:  # noqa: BLE001
            return [
                f"overlap={overlap} >= size=24 raised {type(exc).__name__}; "
                "raise a ValueError naming overlap."
            ]
        return [
            f"overlap >= chunk size accepted (overlap={overlap}, size=24): such a chunker never moves "
            "forward. Raise a ValueError naming the overlap."
        ]
    try:
        call(chunker, PARAGRAPHS, TRAIL, 0, 0)
    except ValueError:
        return []
    except Exception as exc:  # noqa: BLE001
        return [f"size=0 raised {type(exc).__name__}; raise a ValueError naming size."]
    return ["size=0 accepted: raise a ValueError naming size (it must be at least 1)."]


def _overlap_problems(chunker) -> list[str]:
    # Sizes from the paragraphs' length: three paragraphs fit in a chunk, one fits in the overlap.
    t = max(count_tokens(p) for p in _paras(PARAGRAPHS))
    no, problem = _safe(chunker, PARAGRAPHS, TRAIL, 3 * t + 1, 0)
    yes, problem2 = _safe(chunker, PARAGRAPHS, TRAIL, 3 * t + 1, t + 1)
    if problem or problem2:
        return [problem or problem2]
    out = []
    bodies = [body(c, TRAIL) for c in yes]
    if len(bodies) < 2 or not all(_shares_text(a, b) for a, b in zip(bodies, bodies[1:], strict=False)):
        out.append(
            "Overlap not applied: with overlap > 0 each chunk should start with the last block(s) of the "
            "previous one (whole blocks, up to overlap tokens)."
        )
    plain = [body(c, TRAIL) for c in no]
    if any(_shares_text(a, b) for a, b in zip(plain, plain[1:], strict=False)):
        out.append(
            "Overlap applied with overlap=0: consecutive chunks repeat text although no overlap was asked."
        )
    if len(yes) >= 2 and any(
        set(_paras(b)) <= set(_paras(a)) for a, b in zip(bodies, bodies[1:], strict=False)
    ):
        out.append(
            "A chunk holds nothing new: the overlap carried everything and the chunker did not move on."
        )
    return out


def _paras(text: str) -> list[str]:
    return [p.strip() for p in text.split("\n\n") if p.strip()]


def _shares_text(a: str, b: str) -> bool:
    return bool(set(_paras(a)) & set(_paras(b)))


def _size_problems(chunker) -> list[str]:
    result, problem = _safe(chunker, PARAGRAPHS, TRAIL, 24, 8)
    if problem:
        return [problem]
    over = [count_tokens(body(c, TRAIL)) for c in result if count_tokens(body(c, TRAIL)) > 24]
    if over:
        return [f"Chunks over the size: {over} tokens > 24 (only one code block or table may exceed it)."]
    lost = [p for p in _paras(PARAGRAPHS) if not any(p in c for c in result)]
    if lost:
        return [f"Text lost: {len(lost)} paragraph(s) appear in no chunk, e.g. {lost[0][:50]!r}."]
    return []


def _empty_problems(chunker) -> list[str]:
    out = []
    for text in ("", "   \n\n  "):
        result, problem = _safe(chunker, text, TRAIL, 24, 8)
        if problem:
            return [problem]
        if result:
            out.append(
                f"An empty section gave {len(result)} chunk(s) for text {text!r}: it should give none."
            )
            break
    return out


def _unicode_problems(chunker) -> list[str]:
    result, problem = _safe(chunker, UNICODE_TEXT, ["Café", "日本語"], 8, 0)
    if problem:
        return [problem]
    joined = "\n".join(result)
    missing = [w for w in ("Ünïcödé", "café", "日本語", "—") if w not in joined]
    if missing or not all(c.startswith("Café > 日本語\n") for c in result):
        return [f"Unicode mangled or lost: {missing or 'the trail'}; slice Python strings, never bytes."]
    return []


# ------------------------------------------------------------------------------------------- recall
def chunks_from(chunker: Chunker, sections: list[dict], size: int, overlap: int) -> list[Chunk]:
    """Run the chunker over every section; each string becomes a Chunk covering its section."""
    chunks = []
    for section in sections:
        trail = list(section.get("trail") or [section["title"]])
        for i, text in enumerate(chunker(section["text"], trail, size, overlap) or []):
            chunks.append(Chunk(f"{section['id']}#{i}", section["id"], text, "", 0, 0, (section["id"],)))
    return chunks


def evaluate(chunker: Chunker | None = None, size: int = 256, overlap: int = 32, split: str = "dev") -> dict:
    """recall@5 and context tokens on the facts split: of the learner's chunker, or (None) of the baseline."""
    from ragft.corpus.data import load_corpus, load_evalset
    from ragft.retrieval.chunk_eval import evaluate_chunks
    from ragft.retrieval.chunking import chunk_corpus

    sections = load_corpus("5.2")
    evalset = load_evalset("facts", split)
    if chunker is None:
        chunks = chunk_corpus(sections, *BASELINE)
    else:
        chunks = chunks_from(chunker, sections, size, overlap)
    result = evaluate_chunks(chunks, {split: evalset}, K)[split]
    return {
        "recall@5": result[f"recall@{K}"],
        "context_tokens": result["context_tokens"],
        "chunks": len(chunks),
        "questions": len(evalset.queries),
    }
