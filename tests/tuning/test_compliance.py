"""Format compliance: the three checks, the early-stop rule and the rates, on hand-written outputs."""

import pytest

from ragft.tuning.compliance import (
    answer_correct,
    can_still_comply,
    check_output,
    citation_correct,
    score_outputs,
)


@pytest.mark.parametrize(
    ("text", "n", "flags", "reason"),
    [
        ('{"answer": "None", "citations": [2]}', 3, (True, True, True), "ok"),
        ('  {"answer": "None", "citations": [1, 2]}\n', 2, (True, True, True), "ok"),
        ('The answer is {"answer": "None", "citations": [2]}', 3, (False, False, False), "not valid JSON"),
        ('```json\n{"answer": "None", "citations": [2]}\n```', 3, (False, False, False), "not valid JSON"),
        ('{"answer": "None", "citations": [2]} Hope this helps', 3, (False, False, False), "not valid JSON"),
        ('{"answer": "None"}', 3, (True, False, False), "schema: keys ['answer'], expected"),
        ('{"answer": "None", "citations": [2], "why": "x"}', 3, (True, False, False), "schema: keys"),
        ('["None", [2]]', 3, (True, False, False), "schema: keys list"),
        ('{"answer": "", "citations": [2]}', 3, (True, False, False), "schema: answer"),
        ('{"answer": 5, "citations": [2]}', 3, (True, False, False), "schema: answer"),
        ('{"answer": "x", "citations": []}', 3, (True, False, False), "schema: citations"),
        ('{"answer": "x", "citations": ["2"]}', 3, (True, False, False), "schema: citations"),
        ('{"answer": "x", "citations": [true]}', 3, (True, False, False), "schema: citations"),
        ('{"answer": "x", "citations": 2}', 3, (True, False, False), "schema: citations"),
        ('{"answer": "x", "citations": [4]}', 3, (True, True, False), "citations [4] outside 1..3"),
        ('{"answer": "x", "citations": [0]}', 3, (True, True, False), "citations [0] outside"),
    ],
)
def test_check_output(text, n, flags, reason):
    result = check_output(text, n)
    assert (result.valid_json, result.schema, result.citations_in_range) == flags
    assert result.reason.startswith(reason)
    assert result.compliant == all(flags)


def test_check_output_names_n_passages_when_it_is_not_positive():
    with pytest.raises(ValueError, match="n_passages must be >= 1, got 0"):
        check_output("{}", 0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", True),
        ("  ", True),
        ('{"ans', True),
        ('{"answer": "a } b", "citations": [1', True),  # braces inside strings do not close the object
        ('{"answer": "say \\"}\\"", "citations": [1]', True),  # escaped quotes stay inside the string
        ('{"answer": "x", "citations": [1]}', True),
        ('{"answer": "x", "citations": [1]}  \n', True),
        ('{"answer": "x", "citations": [1]} and', False),
        ("The answer", False),
        ("```json", False),
    ],
)
def test_can_still_comply(text, expected):
    assert can_still_comply(text) is expected


def test_answer_and_citation_correctness_are_separate_from_compliance():
    out = '{"answer": "``None``", "citations": [2]}'
    assert answer_correct(out, "None") and citation_correct(out, [2])
    assert not answer_correct(out, "0") and not citation_correct(out, [1])
    assert not answer_correct("None", "None")  # not JSON: no answer field to read


def test_score_outputs_rates_and_reasons():
    records = [{"passages": ["a", "b"], "answer": "None", "citations": [1]}] * 4
    outputs = [
        '{"answer": "None", "citations": [1]}',
        '{"answer": "0", "citations": [2]}',
        '{"answer": "None", "citations": [3]}',
        "None",
    ]
    scores = score_outputs(outputs, records)
    assert scores["compliance"] == 0.5
    assert (scores["valid_json"], scores["schema"], scores["citations_in_range"]) == (0.75, 0.75, 0.5)
    assert scores["answer_correct"] == 0.5 and scores["citation_correct"] == 0.25
    assert scores["failure_reasons"] == {"citations": 1, "not valid JSON": 1}


def test_score_outputs_names_mismatched_lengths():
    with pytest.raises(ValueError, match="outputs has 1 entries but records has 0"):
        score_outputs(["x"], [])
