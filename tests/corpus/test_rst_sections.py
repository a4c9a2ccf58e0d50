"""The line-based reST splitter: headings, levels, anchors, ids, and what must never be split."""

from ragft.corpus.rst_sections import clean_markup, parse_sections, slugify


def _parse(text: str, path: str = "ref/demo.txt") -> list[dict]:
    return parse_sections(text, path, "9.9")


DOC = """\
.. _demo-top:

=====
Title
=====

Intro paragraph.

First
=====

Body one.

Sub
---

Body two.

Second
======

Body three.
"""


def test_levels_trails_and_record_keys():
    sections = _parse(DOC)
    assert [s["trail"] for s in sections] == [
        ["Title"],
        ["Title", "First"],
        ["Title", "First", "Sub"],
        ["Title", "Second"],
    ]
    top = sections[0]
    assert top["id"] == "9.9/ref/demo#demo-top"
    assert top["anchors"] == ["demo-top"]
    assert top["title"] == "Title" and top["text"] == "Intro paragraph."
    assert top["version"] == "9.9" and top["path"] == "ref/demo.txt"
    assert [s["order"] for s in sections] == [0, 1, 2, 3]
    assert sections[2]["id"] == "9.9/ref/demo#sub" and sections[2]["text"] == "Body two."


def test_overline_and_underline_of_one_character_are_different_levels():
    text = "=====\nA\n=====\n\nx\n\nB\n=====\n\ny\n\n=====\nC\n=====\n\nz\n"
    assert [s["trail"] for s in _parse(text)] == [["A"], ["A", "B"], ["C"]]


def test_inset_overlined_title():
    sections = _parse("======\n Inset\n======\n\nText.\n")
    assert sections[0]["title"] == "Inset" and sections[0]["text"] == "Text."


def test_simple_table_borders_are_not_headings():
    text = """\
Title
=====

=====  =====
A      B
=====  =====
1      2
=====  =====

After the table.
"""
    (section,) = _parse(text)
    assert "=====  =====\nA      B" in section["text"]
    assert section["text"].endswith("After the table.")


def test_grid_table_kept_whole():
    text = "Title\n=====\n\n+-----+-----+\n| a   | b   |\n+=====+=====+\n| 1   | 2   |\n+-----+-----+\n"
    (section,) = _parse(text)
    assert section["text"].count("\n") == 4


def test_code_blocks_with_underline_lookalikes_stay_in_one_section():
    text = """\
Title
=====

Example::

    Not a heading
    -------------

.. code-block:: rst

    Also not
    ========

End.
"""
    (section,) = _parse(text)
    assert "    Not a heading\n    -------------" in section["text"]
    assert "    Also not\n    ========" in section["text"]
    assert section["text"].endswith("End.")


def test_transitions_short_underlines_and_unblanked_titles_are_not_headings():
    text = "Title\n=====\n\nText\n\n----------\n\nLonger title\n---\n\nPara line\nUnder\n-----\n"
    (section,) = _parse(text)
    assert "Longer title\n---" in section["text"] and "Under\n-----" in section["text"]


def test_labels_become_anchors_and_leave_the_previous_body():
    text = """\
Title
=====

Text.

.. _first-label:

.. _second-label:

Sub
---

Body.

.. _external: https://example.com
"""
    top, sub = _parse(text)
    assert top["text"] == "Text."
    assert sub["anchors"] == ["first-label", "second-label"]
    assert sub["id"].endswith("#first-label")
    assert sub["text"].endswith(".. _external: https://example.com")


def test_target_directives_move_into_the_section_they_name():
    text = "Settings\n========\n\nIntro.\n\n.. setting:: DEBUG\n\n"
    text += "``DEBUG``\n---------\n\nDefault: ``False``\n"
    top, debug = _parse(text)
    assert top["text"] == "Intro."
    assert debug["text"] == ".. setting:: DEBUG\n\nDefault: ``False``"
    assert debug["id"].endswith("#debug") and debug["title"] == "``DEBUG``"  # raw title, rendered slug


def test_slugs_use_the_rendered_title():
    (section,) = _parse("Importing :envvar:`DJANGO_SETTINGS_MODULE`?\n" + "=" * 44 + "\n\nText.\n")
    assert section["id"] == "9.9/ref/demo#importing-django-settings-module"
    assert section["title"] == "Importing :envvar:`DJANGO_SETTINGS_MODULE`?"


def test_duplicate_slugs_get_numbered():
    text = "Top\n===\n\nA b\n---\n\nx\n\nA-b\n---\n\ny\n\nA b\n---\n\nz\n"
    ids = [s["id"].split("#")[1] for s in _parse(text)]
    assert ids == ["top", "a-b", "a-b-2", "a-b-3"]


def test_unicode_titles_and_slugs():
    text = "Café crème\n==========\n\nÜber ≥ 10.\n"
    (section,) = _parse(text)
    assert section["title"] == "Café crème" and section["text"] == "Über ≥ 10."
    assert section["id"] == "9.9/ref/demo#café-crème"
    assert slugify("``DEFAULT_AUTO_FIELD``") == "default-auto-field"
    assert slugify("?!") == "section"
    assert clean_markup("``x``\\ s") == "xs"


def test_text_before_the_first_heading_and_heading_only_sections():
    text = ":orphan:\n\nTitle\n=====\n\nSub\n---\n\nBody.\n"
    intro, title, sub = _parse(text, "misc/x.txt")
    assert intro["title"] == "misc/x.txt" and intro["trail"] == ["misc/x.txt"] and intro["text"] == ":orphan:"
    assert title["text"] == "" and title["title"] == "Title"  # heading-only sections are kept
    assert sub["text"] == "Body."
    assert _parse("") == []


def test_windows_line_endings():
    assert [s["title"] for s in _parse("Title\r\n=====\r\n\r\nText.\r\n")] == ["Title"]
