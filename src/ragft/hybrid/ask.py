"""Ask the system the course builds: closed-book, RAG, or the hybrid (the reader adapter reading retrieved
passages), over Django's manual (4.2 or 5.2) or over a folder of your own documents.

The pieces are the experiments' own: the course's store (structure chunks with their heading trail, BM25,
top 3), the reader's prompt and strict JSON schema, and the reader adapter trained on pool R. The model is
loaded once per call and the questions are answered in batches.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

METHODS = ("closed-book", "rag", "hybrid")
VERSIONS = ("4.2", "5.2")
DEFAULT_METHOD, DEFAULT_VERSION = "hybrid", "5.2"
DOC_SUFFIXES = (".txt", ".md", ".rst")
K = 3
MAX_NEW_TOKENS = 48


def check_choice(name: str, value: str, allowed: Sequence[str]) -> str:
    """value if it is one of allowed, else a ValueError naming the argument and the allowed values."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}, got {value!r}")
    return value


def load_documents(folder: str | Path) -> dict[str, dict]:
    """Every readable .txt/.md/.rst file under folder (UTF-8, not empty) as {relative path: {"title",
    "text"}}; a ValueError when the folder is missing or holds none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"docs must be a folder, got {str(folder)!r}")
    documents = {}
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.suffix.lower() not in DOC_SUFFIXES:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if text.strip():
            documents[path.relative_to(folder).as_posix()] = {"title": path.stem, "text": text}
    if not documents:
        raise ValueError(
            f"docs folder {str(folder)!r} holds no readable {', '.join(DOC_SUFFIXES)} file (UTF-8, not empty)"
        )
    return documents


def read_questions(path: str | Path) -> list[dict]:
    """Questions from a JSON-lines file, one {"id": ..., "question": "..."} per line (blank lines skipped);
    a ValueError naming the line of the first bad one."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"questions must be a JSON-lines file, got {str(path)!r}")
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{number}: not JSON ({exc.msg})") from None
        if not isinstance(item, dict) or "id" not in item:
            raise ValueError(f'{path}:{number}: each line must be an object with "id" and "question"')
        check_question(item.get("question"), f"{path}:{number}: question")
        questions.append({"id": item["id"], "question": item["question"].strip()})
    if not questions:
        raise ValueError(f"questions file {str(path)!r} holds no question")
    return questions


def check_question(question: object, name: str = "question") -> str:
    """The question if it is a non-empty string, else a ValueError naming it."""
    if not isinstance(question, str) or not question.strip():
        raise ValueError(f"{name} must be a non-empty string, got {question!r}")
    return question


def store_for(version: str = DEFAULT_VERSION, docs: str | Path | None = None) -> tuple[list, object]:
    """(chunks, BM25 retriever): Django's manual in version, or the documents of a folder (chunked by the
    course's chunker, cached by their content)."""
    from ragft.rag.rag_eval import build_store, load_store

    if docs is not None:
        return build_store(load_documents(docs))
    check_choice("version", version, VERSIONS)
    _, chunks, retriever = load_store("facts" if version == "5.2" else version)
    return chunks, retriever


def retrieve(questions: Sequence[str], chunks: list, retriever, k: int = K) -> list[list]:
    """The top k chunks for each question."""
    lookup = {c.chunk_id: c for c in chunks}
    return [[lookup[cid] for cid, _ in ranking] for ranking in retriever.search(list(questions), k=k)]


def sources(chunk) -> list[str]:
    """What a citation of this chunk names: its sections (Django) or its document (a folder of files)."""
    return list(chunk.section_ids) or [chunk.doc_id]


def prompt_for(method: str, question: str, passages: Sequence) -> list[dict]:
    """The chat a method sends: the closed-book question, or the reader's prompt with the passages (RAG
    sends the base model the same prompt as the hybrid sends the reader adapter)."""
    from ragft.tuning.knowledge_data import closed_book_messages
    from ragft.tuning.reader_data import reader_prompt

    check_choice("method", method, METHODS)
    if method == "closed-book":
        return closed_book_messages(question)
    return reader_prompt(question, passages)


def interpret(output: str, passages: Sequence) -> dict:
    """{"answer", "citations", "abstained"} from one output: the reader's JSON when the output is in its
    schema (citations name the cited passages' sources), else the text as the answer with no citation."""
    from ragft.rag.rag_eval import is_abstention
    from ragft.tuning.reader_data import parse_reader_output

    parsed = parse_reader_output(output, len(passages))
    if parsed["answer"] is None:
        answer = output.strip()
        return {"answer": answer, "citations": [], "abstained": not answer or is_abstention(answer)}
    cited = []
    for number in parsed["citations"]:
        if 1 <= number <= len(passages):
            cited += [s for s in sources(passages[number - 1]) if s not in cited]
    return {"answer": parsed["answer"].strip(), "citations": cited, "abstained": parsed["abstained"]}


def generate_answers(
    texts: Sequence[str],
    method: str = DEFAULT_METHOD,
    version: str = DEFAULT_VERSION,
    docs: str | Path | None = None,
    k: int = K,
    model=None,
    tokenizer=None,
    progress: bool = False,
) -> tuple[list[str], list[list]]:
    """(raw outputs, passages shown) for each question: what answer_questions reads, and what the
    experiments score. model/tokenizer: the base with the reader adapter attached
    (`ragft.tuning.experiments.load_models(("reader",))`), loaded here when not given."""
    from ragft.tuning.experiments import generate_with, load_models
    from ragft.tuning.knowledge_vs_behavior import until_json_closes

    check_choice("method", method, METHODS)
    check_choice("version", version, VERSIONS)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    texts = [check_question(t) for t in texts]
    if method == "closed-book":
        passages: list[list] = [[] for _ in texts]
    else:
        chunks, retriever = store_for(version, docs)
        passages = retrieve(texts, chunks, retriever, k)
    if model is None:
        model, tokenizer = load_models(("reader",))
    prompts = [prompt_for(method, t, p) for t, p in zip(texts, passages, strict=True)]
    outputs = generate_with(
        model,
        tokenizer,
        prompts,
        "reader" if method == "hybrid" else None,
        MAX_NEW_TOKENS,
        None if method == "closed-book" else until_json_closes,
        f"answering ({method})" if progress else "",
    )
    return outputs, passages


def answer_questions(
    questions: Sequence[dict],
    method: str = DEFAULT_METHOD,
    version: str = DEFAULT_VERSION,
    docs: str | Path | None = None,
    k: int = K,
    model=None,
    tokenizer=None,
    progress: bool = False,
) -> list[dict]:
    """Answer [{"id", "question"}, ...] in input order: one {"id", "question", "answer", "citations",
    "abstained", "passages"} per question (see generate_answers for model/tokenizer)."""
    from ragft.rag.pipeline import format_passage
    from ragft.tuning.reader_data import READER_MAX_CHARS

    texts = [check_question(q.get("question"), f"question {q.get('id')!r}").strip() for q in questions]
    outputs, passages = generate_answers(texts, method, version, docs, k, model, tokenizer, progress)
    return [
        {
            "id": q["id"],
            "question": text,
            **interpret(output, shown),
            "passages": [
                {
                    "number": i,
                    "chunk_id": c.chunk_id,
                    "sources": sources(c),
                    "text": format_passage(i, c, READER_MAX_CHARS),
                }
                for i, c in enumerate(shown, start=1)
            ],
        }
        for q, text, output, shown in zip(questions, texts, outputs, passages, strict=True)
    ]
