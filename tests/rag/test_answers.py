import pytest

from ragft.rag.answers import answer_matches, normalize_answer


@pytest.mark.parametrize(
    "answer, gold, expected",
    [
        ("The default value of the SESSION_COOKIE_DOMAIN setting is ``None``.", "None", True),
        ("The default is `'N j, Y'`.", "'N j, Y'", True),
        ("The default value is 1.", "600", False),
        ("It was added in Django 5.2", "5.2", True),
        ("It was added in Django 1.8.0.", "5.2", False),
        ("The default value of the setting is an empty string.", "''", True),
        ("It defaults to an empty list", "[]", True),
        ("It defaults to a string.", "''", False),
        ("The default is `True`.", "False", False),
    ],
)
def test_containment_after_normalizing(answer, gold, expected):
    assert answer_matches(answer, gold) is expected


def test_normalize():
    assert normalize_answer("  ``Foo``\n  Bar. ") == "foo bar"


def test_empty_gold_is_an_error():
    with pytest.raises(ValueError, match="gold"):
        answer_matches("anything", "  ")


def test_a_quoted_literal_matches_its_unquoted_value_as_a_whole_word():
    assert answer_matches("The default is 25M.", "'25M'")
    assert answer_matches("It is `'25M'`", "'25M'")
    assert not answer_matches("The default is 250M.", "'25M'")
    assert not answer_matches("The default is '25M2'", "'25M'")
    # One-character values stay strict: 'a' would otherwise match almost any sentence.
    assert not answer_matches("a value", "'a'")
