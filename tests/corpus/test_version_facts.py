"""The extra fact templates compared across versions, on a few synthetic sections."""

import pytest

from ragft.corpus.version_facts import (
    attribute_default_facts,
    last_changed_facts,
    library_version_facts,
    min_version_facts,
    subjects_of_eval_fact,
    version_facts,
)


def _section(text, path="ref/x.txt", slug="s", version="5.2", title="T"):
    return {
        "id": f"{version}/{path.removesuffix('.txt')}#{slug}",
        "version": version,
        "path": path,
        "trail": ["Page", title],
        "title": title,
        "anchors": [],
        "text": text,
        "order": 0,
    }


def test_min_version_reads_supports_and_higher_outside_release_notes():
    sections = [
        _section("Django supports `PostgreSQL`_ 14 and higher.\n"),
        _section("This tutorial is for Django |version|, which supports Python 3.10 and later.\n", slug="p"),
        _section("Django supports MySQL 5 and higher.\n", path="releases/5.0.txt"),
    ]
    facts = list(min_version_facts(sections))
    assert [(f.key, f.answer, f.subjects) for f in facts] == [
        ("min-version/PostgreSQL", "14", ["PostgreSQL"]),
        ("min-version/Python", "3.10", ["Python", "Django 5.2"]),
    ]
    assert facts[0].question == "What is the oldest version of PostgreSQL that Django supports?"
    assert len(facts[0].paraphrases) == 2


TABLE = """Libraries:

==================  ===========  ==================
Program             Required     Supported Versions
==================  ===========  ==================
:doc:`GEOS <geos>`  Yes          3.13, 3.12
`PROJ`_             No           9.x
==================  ===========  ==================
"""


def test_library_versions_reads_a_supported_versions_table():
    facts = list(library_version_facts([_section(TABLE, path="ref/contrib/gis/install/geolibs.txt")]))
    assert [(f.key, f.answer) for f in facts] == [
        ("library-versions/GEOS", "3.13, 3.12"),
        ("library-versions/PROJ", "9.x"),
    ]
    assert facts[0].question == "Which versions of GEOS does GeoDjango support?"


def test_attribute_default_reads_only_the_attributes_own_body():
    text = (
        ".. class:: Sitemap\n\n"
        "    Defaults to ``'ignored'`` (the class, not an attribute).\n\n"
        "    .. attribute:: Sitemap.protocol\n\n"
        "        The protocol. Defaults to ``'https'``.\n\n"
        "    .. attribute:: Sitemap.limit\n\n"
        "        No default here.\n\n"
        "        .. code-block:: python\n\n"
        "            Defaults to ``'in code'``\n"
    )
    facts = list(attribute_default_facts([_section(text)]))
    assert [(f.key, f.answer, f.subjects) for f in facts] == [
        ("attribute-default/Sitemap.protocol", "'https'", ["Sitemap.protocol"])
    ]


def test_last_changed_takes_the_newest_note_of_the_object_itself():
    text = (
        ".. class:: Client\n\n"
        "    A client.\n\n"
        "    .. versionchanged:: 5.0\n\n"
        "        Changed.\n\n"
        "    .. versionchanged:: 4.2\n\n"
        "        Earlier.\n\n"
        "    .. method:: get(path)\n\n"
        "        .. versionchanged:: 5.1\n\n"
        "            The method changed.\n"
    )
    facts = {f.key: f for f in last_changed_facts([_section(text)])}
    assert {k: f.answer for k, f in facts.items()} == {
        "last-changed/class/Client": "5.0",
        "last-changed/method/Client.get()": "5.1",
    }
    assert facts["last-changed/method/Client.get()"].question == (
        "In which Django version did the method Client.get() last change?"
    )
    assert facts["last-changed/method/Client.get()"].subjects == ["Client.get"]


@pytest.mark.parametrize(
    ("qid", "subjects"),
    [
        ("facts/setting-default/USE_TZ", ["USE_TZ"]),
        ("facts/version-added/method/Form.as_div()", ["Form.as_div"]),
        ("facts/version-added/django-admin-option/migrate/--prune", ["migrate --prune"]),
        ("facts/python-support/5.2", ["Django 5.2"]),
    ],
)
def test_subjects_of_eval_fact(qid, subjects):
    assert subjects_of_eval_fact(qid) == subjects


def test_version_facts_merges_golds_and_drops_ambiguous_facts():
    sections = [
        _section("Django supports SQLite 3.31.0 and later.\n", slug="a"),
        _section("Django supports SQLite 3.31.0 and later.\n", slug="b"),
        _section("Django supports MariaDB 10.5 and higher.\n", slug="c"),
        _section("Django supports MariaDB 10.6 and higher.\n", slug="d"),
    ]
    found = version_facts(sections)
    assert sorted(found) == ["facts/min-version/SQLite"]
    sqlite = found["facts/min-version/SQLite"]
    assert sqlite["gold"] == ["5.2/ref/x#a", "5.2/ref/x#b"]
    assert sqlite["split"] is None
