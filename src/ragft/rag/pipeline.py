"""Retrieval-augmented generation: retrieve -> prompt -> generate -> answer with citations.

One question goes through four steps, each visible in the returned `RagAnswer`:
1. the retriever ranks chunks and the top k become numbered passages (`context_ids`);
2. the passages, truncated to `max_chars` each, and the question form the `prompt`;
3. a generate function (SmolLM2 by default, or any `fn(prompt, *, system, max_new_tokens) -> str`,
   e.g. a LoRA-tuned model or a fake in tests) writes the `raw` output; its first line is the `answer`;
4. `citations` are the passages the answer cites as [n]; a small model rarely writes markers, so when
   it writes none the answer is attributed to the best-ranked passage that contains it
   (`citation_source` says which: "model", "attributed" or "none").

Usage::

    from ragft.rag.pipeline import answer, answer_batch
    result = answer("What is the default value of USE_TZ?", retriever, chunks, k=3)
    result.answer, result.citations, result.context_ids
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass

from ragft.rag.answers import normalize_answer
from ragft.retrieval.chunking import Chunk

DEFAULT_K = 3
DEFAULT_MAX_CHARS = 500
DEFAULT_MAX_NEW_TOKENS = 32
MAX_K = 20
DEFAULT_SYSTEM = (
    "Answer the question using only the numbered context passages. Cite the passage you used like [1]. "
    'If the passages do not contain the answer, say "I don\'t know".'
)
QUESTION_SUFFIX = "Answer briefly and cite the passage number, like [1]."
CLOSED_BOOK_SUFFIX = "Answer briefly."
CITATION_SOURCES = ("model", "attributed", "none")

GenerateFn = Callable[..., str]  # fn(prompt: str, *, system: str | None, max_new_tokens: int) -> str

_MARKER = re.compile(r"\[(\d{1,2})\]")
_LITERALS = (
    re.compile(r"``(.+?)``"),
    re.compile(r"`([^`]+?)`"),
    re.compile(r"('[^']*'|\"[^\"]*\")"),
)
_VERSION = re.compile(r"\b(?:Django\s+)?(\d+\.\d+(?:\.\d+)?)\b")
_COPULA = re.compile(r"\b(?:is|are|was|were|defaults to)\s+(.+)$", re.I)


@dataclass(frozen=True)
class RagAnswer:
    """What one RAG call produced, with everything needed to check it afterwards."""

    question: str
    answer: str  # the first non-empty line of the output, citation markers kept
    citations: tuple[str, ...]  # chunk ids the answer is credited to (see citation_source)
    context_ids: tuple[str, ...]  # chunk ids shown to the model, passage [1] first
    prompt: str  # the user turn exactly as sent (the system turn is `system`)
    raw: str  # the whole generated text
    contexts: tuple[str, ...] = ()  # the passage texts as shown (after truncation)
    citation_source: str = "none"  # "model" (it wrote [n]), "attributed" (containment) or "none"
    invalid_citations: tuple[int, ...] = ()  # markers that name no passage, e.g. [4] with k=3
    system: str | None = None

    def to_dict(self) -> dict:
        """A JSON-ready dict (tuples become lists)."""
        return {key: list(v) if isinstance(v, tuple) else v for key, v in asdict(self).items()}


# ------------------------------------------------------------------------------------------- prompt
def truncate(text: str, max_chars: int) -> str:
    """Cut text to at most max_chars, at a white space when there is one, marking the cut with ' ...'."""
    if max_chars < 1:
        raise ValueError(f"max_chars must be >= 1, got {max_chars}")
    text = text.strip()
    if len(text) <= max_chars:
        return text
    cut = text[:max_chars]
    space = cut.rfind(" ")
    return (cut[:space] if space > max_chars // 2 else cut).rstrip() + " ..."


def format_passage(number: int, chunk: Chunk | str, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """'[n] heading trail' then the chunk's text, truncated (the trail tells the model where it is)."""
    if isinstance(chunk, str):
        return f"[{number}] {truncate(chunk, max_chars)}"
    header = f"[{number}] {chunk.context}".rstrip()
    return f"{header}\n{truncate(chunk.text, max_chars)}"


def build_prompt(question: str, passages: Sequence[Chunk | str], max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """The user turn: numbered passages, then the question; without passages, a closed-book question."""
    if not question.strip():
        raise ValueError("question must be a non-empty string")
    if not passages:
        return f"Question: {question.strip()}\n{CLOSED_BOOK_SUFFIX}"
    blocks = "\n\n".join(format_passage(i, p, max_chars) for i, p in enumerate(passages, start=1))
    return f"Context:\n{blocks}\n\nQuestion: {question.strip()}\n{QUESTION_SUFFIX}"


# ------------------------------------------------------------------------------------------- answers
def _answer_lines(text: str) -> tuple[str, bool]:
    """(answer, complete): the first non-empty line, joined with the next one when it ends in ':'
    ("The default is:" then "``[]``"); complete once a newline follows the answer."""
    lines = text.split("\n")
    content = [(i, line.strip()) for i, line in enumerate(lines) if line.strip()]
    if not content:
        return "", False
    first_index, first = content[0]
    if first.endswith(":") and len(content) > 1:
        second_index, second = content[1]
        return f"{first} {second}", second_index < len(lines) - 1
    if first.endswith(":"):
        return first, False
    return first, first_index < len(lines) - 1


def first_line(text: str) -> str:
    """The answer part of a generation: its first non-empty line (two when the first ends in ':').

    Small models state the answer in one line and then keep writing."""
    return _answer_lines(text)[0]


def extract_answer_span(answer: str) -> str:
    """The short value an answer states: a ``literal``, `literal` or quoted string, a version number, the
    words after 'is'/'was'/'defaults to', else the whole sentence; citation markers removed."""
    text = _MARKER.sub("", first_line(answer)).strip()
    for pattern in _LITERALS:
        match = pattern.search(text)
        if match and match.group(1).strip():
            return match.group(1).strip()
    version = _VERSION.search(text)
    if version:
        return version.group(1)
    copula = _COPULA.search(text)
    span = copula.group(1) if copula else text
    return span.strip().rstrip(".").strip()


def cited_numbers(answer: str) -> list[int]:
    """Passage numbers the answer cites as [n], in order, without repeats."""
    return list(dict.fromkeys(int(m) for m in _MARKER.findall(answer)))


def attribute(answer: str, contexts: Sequence[str]) -> int | None:
    """0-based index of the best-ranked passage containing the answer's span, or None (post-hoc citation)."""
    span = normalize_answer(extract_answer_span(answer))
    if not span:
        return None
    for index, text in enumerate(contexts):
        if span in normalize_answer(text):
            return index
    return None


def resolve_citations(
    answer: str, context_ids: Sequence[str], contexts: Sequence[str]
) -> tuple[tuple[str, ...], str, tuple[int, ...]]:
    """(cited chunk ids, citation source, invalid marker numbers) for one answer."""
    numbers = cited_numbers(answer)
    valid = [n for n in numbers if 1 <= n <= len(context_ids)]
    invalid = tuple(n for n in numbers if n not in valid)
    if valid:
        return tuple(context_ids[n - 1] for n in valid), "model", invalid
    index = attribute(answer, contexts)
    if index is not None:
        return (context_ids[index],), "attributed", invalid
    return (), "none", invalid


# ------------------------------------------------------------------------------------------- generation
def model_generate_fn(model=None, tokenizer=None, stop_at_newline: bool = True) -> GenerateFn:
    """A greedy generate function over SmolLM2 (or the given model) that stops after the first line.

    Stopping at the first newline after some text saves most of the decoding time: the course's
    small model states its answer in one line and then keeps writing.
    """

    def generate_fn(prompt: str, *, system: str | None = None, max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS):
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        from ragft.runtime.models import MAX_NEW_TOKENS_LIMIT, build_messages, load_generator

        if not 1 <= max_new_tokens <= MAX_NEW_TOKENS_LIMIT:
            raise ValueError(
                f"max_new_tokens must be between 1 and {MAX_NEW_TOKENS_LIMIT}, got {max_new_tokens}"
            )
        lm, tok = (model, tokenizer) if model is not None and tokenizer is not None else load_generator()
        inputs = tok.apply_chat_template(
            build_messages(prompt, system), add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        start = inputs["input_ids"].shape[1]

        class _FirstLine(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                return _answer_lines(tok.decode(input_ids[0, start:], skip_special_tokens=True))[1]

        options = {
            "max_new_tokens": max_new_tokens,
            "pad_token_id": tok.eos_token_id,
            "do_sample": False,
            "temperature": None,
            "top_p": None,
            "top_k": None,
        }
        if stop_at_newline:
            options["stopping_criteria"] = StoppingCriteriaList([_FirstLine()])
        with torch.inference_mode():
            output = lm.generate(**inputs, **options)
        return tok.decode(output[0, start:], skip_special_tokens=True).strip()

    return generate_fn


def _lookup(chunks: Mapping[str, Chunk] | Iterable[Chunk]) -> Mapping[str, Chunk]:
    return chunks if isinstance(chunks, Mapping) else {c.chunk_id: c for c in chunks}


def _check_k(k: int) -> None:
    if not 1 <= k <= MAX_K:
        raise ValueError(f"k must be between 1 and {MAX_K}, got {k}")


def answer_from_context(
    question: str,
    passages: Sequence[Chunk],
    *,
    generate_fn: GenerateFn | None = None,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    max_chars: int = DEFAULT_MAX_CHARS,
    system: str | None = DEFAULT_SYSTEM,
) -> RagAnswer:
    """Prompt -> generate -> cite, for passages chosen by the caller (gold passages, or none: closed book)."""
    generate_fn = generate_fn or model_generate_fn()
    prompt = build_prompt(question, passages, max_chars)
    raw = generate_fn(prompt, system=system if passages else None, max_new_tokens=max_new_tokens)
    context_ids = tuple(p.chunk_id for p in passages)
    contexts = tuple(truncate(p.text, max_chars) for p in passages)
    line = first_line(raw)
    citations, source, invalid = resolve_citations(line, context_ids, contexts)
    return RagAnswer(
        question=question,
        answer=line,
        citations=citations,
        context_ids=context_ids,
        prompt=prompt,
        raw=raw,
        contexts=contexts,
        citation_source=source,
        invalid_citations=invalid,
        system=system if passages else None,
    )


def answer(
    question: str,
    retriever,
    chunks: Mapping[str, Chunk] | Iterable[Chunk],
    k: int = DEFAULT_K,
    *,
    generate_fn: GenerateFn | None = None,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    max_chars: int = DEFAULT_MAX_CHARS,
    system: str | None = DEFAULT_SYSTEM,
) -> RagAnswer:
    """Answer one question with RAG: the retriever's top-k chunks as numbered passages, then generate.

    `retriever` is any object with `.search(queries, k) -> [[(chunk_id, score), ...]]` over the ids of
    `chunks` (a list of Chunk or a {chunk_id: Chunk} mapping).
    """
    return answer_batch(
        [question],
        retriever,
        chunks,
        k,
        generate_fn=generate_fn,
        max_new_tokens=max_new_tokens,
        max_chars=max_chars,
        system=system,
        show_progress=False,
    )[0]


def answer_batch(
    questions: Sequence[str],
    retriever,
    chunks: Mapping[str, Chunk] | Iterable[Chunk],
    k: int = DEFAULT_K,
    *,
    generate_fn: GenerateFn | None = None,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    max_chars: int = DEFAULT_MAX_CHARS,
    system: str | None = DEFAULT_SYSTEM,
    show_progress: bool = True,
) -> list[RagAnswer]:
    """`answer` for many questions: one retrieval call, then one generation per question (progress bar)."""
    from tqdm.auto import tqdm

    _check_k(k)
    lookup = _lookup(chunks)
    generate_fn = generate_fn or model_generate_fn()
    rankings = retriever.search(list(questions), k) if questions else []
    results = []
    for question, ranking in tqdm(
        list(zip(questions, rankings, strict=True)), desc="RAG answers", disable=not show_progress
    ):
        missing = [doc for doc, _ in ranking[:k] if doc not in lookup]
        if missing:
            raise ValueError(f"the retriever returned ids that are not in chunks: {missing[:3]}")
        passages = [lookup[doc] for doc, _ in ranking[:k]]
        results.append(
            answer_from_context(
                question,
                passages,
                generate_fn=generate_fn,
                max_new_tokens=max_new_tokens,
                max_chars=max_chars,
                system=system,
            )
        )
    return results
