"""ragft.hybrid.ask and `python -m ragft ask`: input checks, citations, and one end-to-end run on a folder."""

import json

import pytest

from ragft.cli import main
from ragft.hybrid import ask
from ragft.retrieval.chunking import Chunk


def _chunk(n, sections=("s",), doc="doc.md"):
    return Chunk(f"c{n}", doc, f"text {n}", "Trail", 0, 6, tuple(sections))


def test_documents_are_the_readable_text_files_of_a_folder(tmp_path):
    (tmp_path / "a.md").write_text("# A\n\nAlpha.", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.rst").write_text("B\n=\n\nBeta.", encoding="utf-8")
    (tmp_path / "c.txt").write_text("   ", encoding="utf-8")  # empty: skipped
    (tmp_path / "d.bin").write_bytes(b"\x00\x01")  # not a document
    (tmp_path / "e.txt").write_bytes(b"\xff\xfe\x00bad")  # not UTF-8: skipped
    documents = ask.load_documents(tmp_path)
    assert sorted(documents) == ["a.md", "sub/b.rst"]
    assert documents["a.md"] == {"title": "a", "text": "# A\n\nAlpha."}


def test_a_folder_without_documents_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="holds no readable .txt, .md, .rst file"):
        ask.load_documents(tmp_path)
    with pytest.raises(ValueError, match="docs must be a folder"):
        ask.load_documents(tmp_path / "missing")


def test_questions_file_is_checked_line_by_line(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text('{"id": 1, "question": " What? "}\n\n{"id": "b", "question": "Why?"}\n', encoding="utf-8")
    assert ask.read_questions(path) == [{"id": 1, "question": "What?"}, {"id": "b", "question": "Why?"}]
    path.write_text('{"id": 1, "question": "ok"}\n{"id": 2, "question": ""}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"q.jsonl:2: question must be a non-empty string"):
        ask.read_questions(path)
    path.write_text('{"question": "no id"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"q.jsonl:1: each line must be an object"):
        ask.read_questions(path)
    path.write_text("not json\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"q.jsonl:1: not JSON"):
        ask.read_questions(path)


def test_choices_name_the_argument_and_the_allowed_values():
    with pytest.raises(
        ValueError, match=r"method must be one of \['closed-book', 'rag', 'hybrid'\], got 'rag2'"
    ):
        ask.check_choice("method", "rag2", ask.METHODS)
    with pytest.raises(ValueError, match="k must be >= 1"):
        ask.answer_questions([{"id": 1, "question": "q"}], k=0, model=object())


def test_interpret_reads_the_schema_and_names_cited_sources():
    passages = [_chunk(1, ("5.2/a#x",)), _chunk(2, (), doc="notes/b.md")]
    out = ask.interpret('{"answer": "42", "citations": [2, 1, 2]}', passages)
    assert out == {"answer": "42", "citations": ["notes/b.md", "5.2/a#x"], "abstained": False}
    assert ask.interpret('{"answer": "not in the documents", "citations": []}', passages)["abstained"]
    prose = ask.interpret("I don't know.", passages)
    assert prose == {"answer": "I don't know.", "citations": [], "abstained": True}
    assert ask.interpret("It is 42.", [])["abstained"] is False


def test_prompts_differ_by_method_only_in_the_passages():
    closed = ask.prompt_for("closed-book", "What is X?", [])
    rag = ask.prompt_for("rag", "What is X?", [_chunk(1)])
    assert "Documents" not in closed[-1]["content"] and "[1] Trail" in rag[-1]["content"]
    assert ask.prompt_for("hybrid", "What is X?", [_chunk(1)]) == rag


@pytest.mark.parametrize(
    "argv, message",
    [
        (["ask"], "give one QUESTION or --questions"),
        (["ask", "  "], "question must be a non-empty string"),
        (["ask", "q", "--docs", ".", "--version", "4.2"], "--docs and --version exclude each other"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_an_unknown_method_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["ask", "q", "--method", "magic"])
    assert stop.value.code == 2 and "invalid choice: 'magic'" in capsys.readouterr().err


def test_ask_answers_from_a_folder_in_input_order_with_citations(tmp_path, capsys):
    """The real model and reader adapter, offline, on two tiny documents (about 10 s)."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "zorblat.md").write_text(
        "# Zorblat settings\n\nThe ZORBLAT_TIMEOUT setting defaults to 47 seconds.\n", encoding="utf-8"
    )
    (docs / "other.md").write_text("# Other\n\nThe garden has three apple trees.\n", encoding="utf-8")
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        '{"id": "t", "question": "What does the ZORBLAT_TIMEOUT setting default to?"}\n'
        '{"id": "g", "question": "How many apple trees does the garden have?"}\n',
        encoding="utf-8",
    )
    assert main(["ask", "--questions", str(questions), "--docs", str(docs)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["id"] for line in lines] == ["t", "g"]
    assert set(lines[0]) == {"id", "question", "answer", "citations", "abstained", "passages"}
    assert all(p["sources"][0] in {"zorblat.md", "other.md"} for p in lines[0]["passages"])
    for line in lines:  # the reader's schema: an answer that cites one of the files, or an abstention
        assert line["abstained"] != bool(line["citations"]), line
        assert set(line["citations"]) <= {"zorblat.md", "other.md"}


def test_ask_answers_a_django_question_with_a_citation():
    """The hybrid over Django 5.2's manual, as a learner's first question would run (about 15 s)."""
    question = "What is the default value of the DATA_UPLOAD_MAX_NUMBER_FIELDS setting?"
    [answer] = ask.answer_questions([{"id": 1, "question": question}])
    assert "1000" in answer["answer"] and not answer["abstained"]
    assert answer["citations"] and all(c.startswith("5.2/") for c in answer["citations"])
    assert any("DATA_UPLOAD_MAX_NUMBER_FIELDS" in p["text"] for p in answer["passages"])
