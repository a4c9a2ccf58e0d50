"""Every short-answer fact one version of the manual states, found by fixed templates, keyed by fact id.

The facts evaluation set's templates (`ragft.corpus.evalsets.build_facts`) plus four more that are worth
comparing across versions: the oldest supported version of a product ("Django supports PostgreSQL 14 and
higher"), GeoDjango's table of supported library versions, an attribute's documented default ("Defaults
to ``'https'``") and the last `versionchanged` note of an object. Running the same templates on 4.2 and
5.2 and comparing answers by fact id is how `ragft.corpus.fact_pools` finds the facts that changed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from ragft.corpus.evalsets import (
    KIND_WORDS,
    MAX_ANSWER_CHARS,
    VERSION_NUMBER,
    Directive,
    build_facts,
    contains_answer,
    iter_directives,
    literal_mask,
)
from ragft.corpus.rst_sections import clean_markup

_MIN_VERSION = re.compile(
    r"\b(?:supports|requires|Requires) (?P<product>[\w.+-]+(?: [\w.+-]+){0,3}?)(?: versions?)? "
    r"(?P<version>\d+(?:\.\d+)*c?) (?:and|or) (?:higher|later|newer)\b"
)
_TABLE_BORDER = re.compile(r"=+(?: +=+)+")
_ATTRIBUTE_DEFAULT = re.compile(r"(?:Defaults to|[Tt]he default(?: value)? is) (?P<value>``[^`]+``)")


class Fact(NamedTuple):
    """One templated fact as found in one section of one version."""

    key: str  # the fact id without "facts/", e.g. "min-version/PostgreSQL"
    kind: str
    question: str
    paraphrases: list[str]
    answer: str
    section: dict
    subjects: list[str]


def _body(lines: list[str], index: int) -> list[str]:
    """The lines at the top level of a directive's body (not those of nested directives or literals)."""
    mask, indent, level, own = literal_mask(lines), len(lines[index]) - len(lines[index].lstrip()), None, []
    for j in range(index + 1, len(lines)):
        line = lines[j]
        if not line.strip():
            continue
        depth = len(line) - len(line.lstrip())
        if depth <= indent:
            break
        level = depth if level is None else level
        if depth == level and not mask[j]:
            own.append(line.strip())
    return own


def _label(directive: Directive) -> tuple[str, str]:
    """(how a question names the object, its name with "()" for callables), as the version_added template."""
    name = directive.name + ("()" if directive.kind in {"function", "method", "classmethod"} else "")
    if directive.kind == "django-admin-option" and directive.command:
        return f"the {name} option of the {directive.command} command", name
    return f"the {KIND_WORDS[directive.kind]} {name}", name


def min_version_facts(sections: list[dict]) -> Iterator[Fact]:
    """The oldest supported version of a product ("Django supports PostgreSQL 14 and higher"), outside
    the release notes."""
    for section in sections:
        if section["path"].startswith("releases/"):
            continue
        for match in _MIN_VERSION.finditer(clean_markup(section["text"])):
            product = match["product"]
            subjects = [product] + ([f"Django {section['version']}"] if product == "Python" else [])
            yield Fact(
                f"min-version/{product}",
                "min_version",
                f"What is the oldest version of {product} that Django supports?",
                [
                    f"What is the minimum {product} version Django works with?",
                    f"From which {product} version on is {product} supported by Django?",
                ],
                match["version"],
                section,
                subjects,
            )


def _table_rows(lines: list[str]) -> Iterator[tuple[list[str], list[str]]]:
    """(header cells, row cells) of every simple reST table (three `=== ===` borders) in the lines."""
    borders = [i for i, line in enumerate(lines) if _TABLE_BORDER.fullmatch(line.strip())]
    for first, second, third in zip(borders, borders[1:], borders[2:], strict=False):
        starts = [m.start() for m in re.finditer(r"=+", lines[first])]
        if [m.start() for m in re.finditer(r"=+", lines[third])] != starts or second != first + 2:
            continue

        def cells(line: str, starts: list[int] = starts) -> list[str]:
            ends = starts[1:] + [len(line)]
            return [line[a:b].strip() for a, b in zip(starts, ends, strict=True)]

        header = cells(lines[first + 1])
        for line in lines[second + 1 : third]:
            if line.strip():
                yield header, cells(line)


def library_version_facts(sections: list[dict]) -> Iterator[Fact]:
    """Rows of a table with a "Supported Versions" column: which versions of each program are supported."""
    for section in sections:
        who = "GeoDjango" if section["path"].startswith("ref/contrib/gis/") else "Django"
        for header, row in _table_rows(section["text"].split("\n")):
            if "Supported Versions" not in header or not row[0]:
                continue
            program, answer = clean_markup(row[0]), clean_markup(row[header.index("Supported Versions")])
            if not answer or len(answer) > MAX_ANSWER_CHARS:
                continue
            yield Fact(
                f"library-versions/{program}",
                "library_versions",
                f"Which versions of {program} does {who} support?",
                [
                    f"What {program} versions are supported by {who}?",
                    f"{who} works with which {program} versions?",
                ],
                answer,
                section,
                [program],
            )


def attribute_default_facts(sections: list[dict]) -> Iterator[Fact]:
    """An attribute's default: "Defaults to ``X``" at the top level of its directive's body."""
    for directive in iter_directives(sections):
        if directive.kind != "attribute" or not directive.name:
            continue
        text = " ".join(_body(directive.section["text"].split("\n"), directive.line))
        match = _ATTRIBUTE_DEFAULT.search(text)
        value = clean_markup(match["value"]) if match else ""
        if not value or len(value) > MAX_ANSWER_CHARS:
            continue
        name = directive.name
        yield Fact(
            f"attribute-default/{name}",
            "attribute_default",
            f"What is the default value of the {name} attribute?",
            [
                f"If it is not overridden, what value does {name} have?",
                f"What does the {name} attribute default to?",
            ],
            value,
            directive.section,
            [name],
        )


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def last_changed_facts(sections: list[dict]) -> Iterator[Fact]:
    """The newest `.. versionchanged:: X.Y` at the top level of an object's body -> when it last changed."""
    for directive in iter_directives(sections):
        if not directive.name:
            continue
        own = _body(directive.section["text"].split("\n"), directive.line)
        found = [line.split("::", 1)[1].strip() for line in own if line.startswith(".. versionchanged::")]
        versions = [v for v in found if VERSION_NUMBER.fullmatch(v)]
        if not versions:
            continue
        label, name = _label(directive)
        key = f"last-changed/{directive.kind}/{name}"
        if directive.kind == "django-admin-option":
            key = f"last-changed/{directive.kind}/{directive.command}/{name}"
        yield Fact(
            key,
            "last_changed",
            f"In which Django version did {label} last change?",
            [
                f"Which Django release changed {label} most recently?",
                f"What is the most recent Django version that changed {label}?",
            ],
            max(versions, key=_version_tuple),
            directive.section,
            [_subject_of(directive)],
        )


def _subject_of(directive: Directive) -> str:
    if directive.kind == "django-admin-option" and directive.command:
        return f"{directive.command} {directive.name}"
    return directive.name


EXTRA_TEMPLATES = {
    "min_version": min_version_facts,
    "library_versions": library_version_facts,
    "attribute_default": attribute_default_facts,
    "last_changed": last_changed_facts,
}


def subjects_of_eval_fact(qid: str) -> list[str]:
    """What a facts-evalset question is about, from its id: a setting or object name, or "Django X.Y"."""
    parts = qid.removeprefix("facts/").split("/")
    if parts[0] == "python-support":
        return [f"Django {parts[1]}"]
    if parts[0] == "version-added":
        return [" ".join(parts[2:]).removesuffix("()")]
    return [parts[-1]]


def _collect(facts: Iterable[Fact]) -> dict[str, dict]:
    """Facts by id; a fact found twice with different answers is ambiguous and dropped."""
    found: dict[str, dict] = {}
    ambiguous: set[str] = set()
    for fact in facts:
        if not contains_answer(fact.section["text"], fact.answer):
            raise AssertionError(f"answer {fact.answer!r} of {fact.key!r} is not in {fact.section['id']}")
        fid = f"facts/{fact.key}"
        if fid in found and found[fid]["answer"] != fact.answer:
            ambiguous.add(fid)
        entry = found.setdefault(
            fid,
            {
                "kind": fact.kind,
                "question": fact.question,
                "paraphrases": list(fact.paraphrases),
                "answer": fact.answer,
                "gold": [],
                "subjects": [],
                "split": None,
            },
        )
        entry["gold"] = sorted({*entry["gold"], fact.section["id"]})
        entry["subjects"] += [s for s in fact.subjects if s not in entry["subjects"]]
    return {fid: entry for fid, entry in found.items() if fid not in ambiguous}


def version_facts(sections: list[dict]) -> dict[str, dict]:
    """fact id -> {kind, question, paraphrases, answer, gold (section ids), subjects, split} for one
    version: the facts evaluation set's templates (split "dev"/"test") and EXTRA_TEMPLATES (split None)."""
    evalset = build_facts(sections)
    gold = {qid: docs for split in evalset.qrels.values() for qid, docs in split.items()}
    found = {}
    for query in evalset.queries:
        meta = query["metadata"]
        found[query["_id"]] = {
            "kind": meta["kind"],
            "question": query["text"],
            "paraphrases": list(meta["paraphrases"]),
            "answer": meta["answer"],
            "gold": sorted(gold[query["_id"]]),
            "subjects": subjects_of_eval_fact(query["_id"]),
            "split": meta["split"],
        }
    extra = _collect(fact for maker in EXTRA_TEMPLATES.values() for fact in maker(sections))
    return {**extra, **found}
