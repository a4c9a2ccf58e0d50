"""Evaluation-set builders on tiny synthetic sections, plus invariants of the committed sets."""

import json

import pytest

from ragft.corpus.evalsets import (
    EVALSET_SPLITS,
    MINI_SUFFIX,
    build_facts,
    build_faq,
    build_identifiers,
    contains_answer,
    corpus_records,
    default_value,
    iter_directives,
    jsonl_bytes,
    qrels_tsv,
    spread_sample,
    write_beir,
)
from ragft.corpus.rst_sections import clean_markup, parse_sections

FAQ = """\
===========
FAQ: Things
===========

Is Django stable?
=================

Yes, quite.

Why is ``foo`` :setting:`BAR`?
==============================

Because.

Empty question?
===============

Not a question
==============

Some text.
"""

SETTINGS = """\
========
Settings
========

.. setting:: DEFAULT_AUTO_FIELD

``DEFAULT_AUTO_FIELD``
----------------------

Default: ``'``:class:`django.db.models.AutoField`\\ ``'``

Primary key type.

.. setting:: LOGGING

``LOGGING``
-----------

Default: A logging configuration dictionary.

.. setting:: NEW_THING

``NEW_THING``
-------------

.. versionadded:: 5.1

Default: ``None`` (disabled)

.. setting:: DATABASES

``DATABASES``
-------------

Default: ``{}`` (Empty dictionary)

.. setting:: DATABASE-ENGINE

``ENGINE``
~~~~~~~~~~

Default: ``''`` (Empty string)
"""

API = """\
===
API
===

.. class:: Widget(name)

    A widget.

    .. method:: render(context)

        .. versionadded:: 5.2

        Renders it.

    .. method:: old()

        .. versionadded:: 5.0

            The ``x`` argument was added.

``Gadget``
==========

.. versionadded:: 5.1

.. class:: Gadget

    A gadget.

Example
=======

.. code-block:: rst

    .. function:: fake()

        .. versionadded:: 1.0
"""

ADMIN = """\
=============
django-admin
=============

``migrate``
-----------

.. django-admin:: migrate [app_label]

Migrates.

.. django-admin-option:: --fake-initial

Skips initial migrations.

.. django-admin-option:: --prune

.. versionadded:: 5.1

Prunes.

Default options
===============

.. program:: None

.. django-admin-option:: --settings SETTINGS

Settings module.
"""

CHECKS = """\
=============
System checks
=============

Model fields
------------

* **fields.E304**: Reverse accessor clashes.
* **fields.W340**: ``null`` has no effect.
"""

RELEASE = """\
========================
Django 5.2 release notes
========================

Python compatibility
====================

Django 5.2 supports Python 3.10, 3.11, 3.12, and 3.13 (as of 5.2.8). We **highly
recommend** and only officially support the latest release of each series.
"""


def _sections(*docs: tuple[str, str]) -> list[dict]:
    sections = []
    for path, text in docs:
        sections.extend(parse_sections(text, path, "5.2"))
    return sections


def test_clean_markup():
    assert clean_markup("``'``:class:`django.db.models.AutoField`\\ ``'``") == "'django.db.models.AutoField'"
    assert clean_markup(":setting:`DEBUG=False <DEBUG>` and :class:`~a.B`") == "DEBUG=False and a.B"
    assert clean_markup("`Python <https://python.org>`_ is **very**\n  *nice*") == "Python is very nice"
    assert clean_markup("f(*args, **kwargs)") == "f(*args, **kwargs)"


def test_default_value():
    assert default_value("Default: ``[]`` (Empty list)") == "[]"
    assert default_value("Default: ``2621440`` (i.e. 2.5 MB).") == "2621440"
    assert default_value("Default: ``'N j, Y'`` (e.g. ``Feb. 4, 2003``)") == "'N j, Y'"
    assert default_value("Default: Not defined") is None
    assert default_value("Default::") is None
    assert default_value("Default: ``['default']``, for all databases other than ``default``") is None
    assert default_value("Default: ``'" + "x" * 70 + "'``") is None


def test_faq_questions_point_to_their_answers():
    result = build_faq(_sections(("faq/things.txt", FAQ)))
    assert [q["text"] for q in result.queries] == ["Is Django stable?", "Why is foo BAR?"]
    first = result.queries[0]
    assert first["_id"] == "faq/things#is-django-stable"  # slugs come from the rendered title
    assert result.qrels == {
        "test": {
            "faq/things#is-django-stable": {"5.2/faq/things#is-django-stable": 1},
            "faq/things#why-is-foo-bar": {"5.2/faq/things#why-is-foo-bar": 1},
        }
    }
    assert first["metadata"] == {"kind": "faq", "source_path": "faq/things.txt", "split": "test"}


def test_corpus_titles_drop_faq_questions():
    records = {r["_id"]: r for r in corpus_records(_sections(("faq/things.txt", FAQ), ("ref/api.txt", API)))}
    assert records["5.2/faq/things#is-django-stable"]["title"] == "FAQ: Things"
    assert records["5.2/faq/things#is-django-stable"]["text"] == "Yes, quite."
    assert records["5.2/faq/things#not-a-question"]["title"] == "FAQ: Things > Not a question"
    assert records["5.2/ref/api#gadget"]["title"] == "API > ``Gadget``"
    assert records["5.2/ref/api#gadget"]["metadata"] == {"path": "ref/api.txt"}


def test_directives_skip_code_blocks_and_track_classes_and_commands():
    sections = _sections(("ref/api.txt", API), ("ref/a.txt", ADMIN))
    found = {(d.kind, d.name): d for d in iter_directives(sections)}
    assert ("function", "fake") not in found
    assert found[("method", "Widget.render")].added == "5.2"
    assert found[("method", "Widget.old")].added == "5.0"  # first content of the method
    assert found[("class", "Widget")].added is None
    assert found[("class", "Gadget")].added == "5.1"  # a bare note written just before it
    assert found[("django-admin-option", "--prune")].command == "migrate"
    assert found[("django-admin-option", "--prune")].added == "5.1"
    assert found[("django-admin-option", "--settings")].command is None


def test_facts():
    sections = _sections(("ref/settings.txt", SETTINGS), ("ref/api.txt", API), ("ref/a.txt", ADMIN))
    sections += _sections(("releases/5.2.txt", RELEASE))
    result = build_facts(sections)
    by_id = {q["_id"]: q for q in result.queries}
    auto = by_id["facts/setting-default/DEFAULT_AUTO_FIELD"]
    assert auto["text"] == "What is the default value of the DEFAULT_AUTO_FIELD setting?"
    assert auto["metadata"]["answer"] == "'django.db.models.AutoField'"
    assert auto["metadata"]["kind"] == "setting_default" and len(auto["metadata"]["paraphrases"]) == 2
    assert "facts/setting-default/LOGGING" not in by_id  # not a concrete value
    assert by_id["facts/setting-default/NEW_THING"]["metadata"]["answer"] == "None"
    engine = by_id["facts/setting-default/DATABASE-ENGINE"]
    assert engine["text"] == "What is the default value of the DATABASES['ENGINE'] setting?"
    assert by_id["facts/version-added/setting/NEW_THING"]["metadata"]["answer"] == "5.1"
    render = by_id["facts/version-added/method/Widget.render()"]
    assert render["text"] == "In which Django version was the method Widget.render() added?"
    prune = by_id["facts/version-added/django-admin-option/migrate/--prune"]
    assert prune["text"] == "In which Django version was the --prune option of the migrate command added?"
    python = by_id["facts/python-support/5.2"]
    assert python["metadata"]["answer"] == "3.10, 3.11, 3.12, and 3.13 (as of 5.2.8)"
    sections_by_id = {s["id"]: s for s in sections}
    splits = {q["metadata"]["split"] for q in result.queries}
    assert splits <= {"dev", "test"}
    for query in result.queries:
        (gold,) = result.qrels[query["metadata"]["split"]][query["_id"]]
        assert contains_answer(sections_by_id[gold]["text"], query["metadata"]["answer"])
    kinds = [q["metadata"]["kind"] for q in result.queries if q["metadata"]["split"] == "test"]
    assert kinds.count("setting_default") == 2  # four setting defaults: half in each split


def test_facts_are_deterministic():
    sections = _sections(("ref/settings.txt", SETTINGS), ("ref/api.txt", API))
    assert jsonl_bytes(build_facts(sections).queries) == jsonl_bytes(build_facts(sections).queries)


def test_identifiers():
    docs = [("ref/settings.txt", SETTINGS), ("ref/django-admin.txt", ADMIN), ("ref/checks.txt", CHECKS)]
    sections = _sections(*docs)
    result = build_identifiers(sections)
    texts = {q["metadata"]["kind"]: [] for q in result.queries}
    for query in result.queries:
        texts[query["metadata"]["kind"]].append(query["text"])
    assert texts == {
        "check": ["fields.E304", "fields.W340"],
        "option": ["migrate --fake-initial", "migrate --prune"],
        # DATABASE-ENGINE is a key nested in DATABASES, not a setting of its own
        "setting": ["DATABASES", "DEFAULT_AUTO_FIELD", "LOGGING", "NEW_THING"],
    }
    qrels = result.qrels["test"]
    assert qrels["identifiers/option/migrate/--fake-initial"] == {"5.2/ref/django-admin#migrate": 1}
    assert qrels["identifiers/check/fields.E304"] == {"5.2/ref/checks#model-fields": 1}
    assert len(build_identifiers(sections, per_kind=1).queries) == 3
    with pytest.raises(ValueError, match="per_kind"):
        build_identifiers(sections, per_kind=0)


def test_spread_sample():
    assert spread_sample(["d", "a", "c", "b"], 2) == ["a", "c"]
    assert spread_sample(["b", "a"], 5) == ["a", "b"]


def test_write_beir(tmp_path):
    sections = _sections(("faq/things.txt", FAQ))
    corpus = jsonl_bytes(corpus_records(sections))
    counts = write_beir(tmp_path / "faq", corpus, build_faq(sections))
    assert counts["queries.jsonl"] == {"queries": 2}
    assert counts["qrels/test.tsv"] == {"queries": 2, "pairs": 2, "kinds": {"faq": 2}}
    lines = (tmp_path / "faq" / "qrels" / "test.tsv").read_text().splitlines()
    assert lines[0] == "query-id\tcorpus-id\tscore" and len(lines) == 3
    assert qrels_tsv({"q": {"d2": 1, "d1": 2}}) == b"query-id\tcorpus-id\tscore\nq\td1\t2\nq\td2\t1\n"


# ---------------------------------------------------------------- the committed sets


def _committed(name: str) -> tuple[dict, list[dict], dict]:
    from ragft.corpus.data import load_beir
    from ragft.runtime.paths import data_dir

    corpus, queries, qrels = load_beir(data_dir() / "eval" / name)
    return corpus, queries, qrels


def test_committed_sets_share_one_corpus_and_have_their_splits():
    from ragft.runtime.paths import data_dir

    full = [name for name in EVALSET_SPLITS if not name.endswith(MINI_SUFFIX)]
    mini = [name for name in EVALSET_SPLITS if name.endswith(MINI_SUFFIX)]
    assert len({(data_dir() / "eval" / name / "corpus.jsonl").read_bytes() for name in full}) == 1
    assert len({(data_dir() / "eval" / name / "corpus.jsonl").read_bytes() for name in mini}) == 1
    assert sorted(mini) == sorted(f"{name}{MINI_SUFFIX}" for name in full)
    for name, splits in EVALSET_SPLITS.items():
        _, queries, qrels = _committed(name)
        assert sorted(qrels) == sorted(splits)
        assert sorted(queries) == sorted(q for split in qrels.values() for q in split)
        for query in queries.values():
            assert query["metadata"]["split"] in splits


def test_mini_sets_keep_every_gold_section_and_the_same_queries():
    from ragft.corpus.evalsets import MINI_DISTRACTORS

    full_corpus, _, _ = _committed("facts")
    mini_corpus, _, _ = _committed("facts-mini")
    assert set(mini_corpus) < set(full_corpus) and len(mini_corpus) > MINI_DISTRACTORS
    for name in ("faq", "facts", "identifiers"):
        _, queries, qrels = _committed(name)
        _, mini_queries, mini_qrels = _committed(f"{name}{MINI_SUFFIX}")
        assert mini_queries == queries and mini_qrels == qrels
        assert all(doc in mini_corpus for split in qrels.values() for rel in split.values() for doc in rel)


def test_mini_selection_takes_neighbours_on_the_same_page_only(monkeypatch):
    from ragft.corpus import evalsets

    sections = [{"id": f"p{p}#{i}", "path": f"p{p}"} for p in range(3) for i in range(4)]
    monkeypatch.setattr(evalsets, "MINI_DISTRACTORS", 0)
    assert evalsets.mini_section_ids(sections, {"p0#3"}) == {"p0#2", "p0#3"}  # p1#0 is the next page
    monkeypatch.setattr(evalsets, "MINI_DISTRACTORS", 2)
    assert len(evalsets.mini_section_ids(sections, {"p0#3"})) == 4


def test_committed_gold_sections_contain_the_answer():
    corpus, queries, qrels = _committed("facts")
    for qid, query in queries.items():
        for doc in qrels[query["metadata"]["split"]][qid]:
            assert contains_answer(corpus[doc]["text"], query["metadata"]["answer"]), qid
    corpus, queries, qrels = _committed("identifiers")
    for qid, query in queries.items():
        literal = query["text"].split(" ")[-1]
        assert all(literal in corpus[doc]["text"] for doc in qrels["test"][qid]), qid


def test_committed_queries_are_well_formed():
    from ragft.runtime.paths import data_dir

    for name in EVALSET_SPLITS:
        for line in (data_dir() / "eval" / name / "queries.jsonl").read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            assert set(record) == {"_id", "text", "metadata"} and record["text"]


def test_faq_questions_are_taken_out_of_the_sections_they_ask_about():
    from ragft.corpus.evalsets import corpus_records, without_faq_questions

    question = {
        "id": "5.2/faq/usage#q",
        "path": "faq/usage.txt",
        "title": "How do I do X?",
        "trail": ["FAQ: Using Django", "How do I do X?"],
        "text": "Like this.",
        "order": 1,
    }
    other = {
        "id": "5.2/ref/settings#debug",
        "path": "ref/settings.txt",
        "title": "DEBUG?",
        "trail": ["Settings", "DEBUG?"],
        "text": "Default: False",
        "order": 1,
    }
    cleaned = without_faq_questions([question, other])
    assert cleaned[0]["title"] == "" and cleaned[0]["trail"] == ["FAQ: Using Django"]
    assert cleaned[1] is other and question["title"] == "How do I do X?"  # the input is left alone
    titles = [r["title"] for r in corpus_records([question, other])]
    assert titles == ["FAQ: Using Django", "Settings > DEBUG?"]
