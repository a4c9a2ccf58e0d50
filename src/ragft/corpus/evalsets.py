"""Three evaluation sets over Django 5.2's sections (faq, facts, identifiers), written in BEIR layout.

The builders are pure functions of the section list (see `ragft.corpus.rst_sections`), so they can be tested
on a few synthetic sections; `build_evalsets` writes them under data/eval/<name>/.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from ragft.corpus.rst_sections import clean_markup

EVALSET_SPLITS: dict[str, tuple[str, ...]] = {
    "faq": ("test",),
    "facts": ("dev", "test"),
    "identifiers": ("test",),
}
# The same queries over a smaller corpus (gold sections, their neighbours, seeded distractors), so
# that embedding it fits a notebook's budget on one thread (~1,400 chunks, about 90 s cold).
MINI_SUFFIX = "-mini"
MINI_NEIGHBOURS = 1
MINI_DISTRACTORS = 300
MINI_SEED = 0
EVALSET_SPLITS.update({f"{name}{MINI_SUFFIX}": splits for name, splits in list(EVALSET_SPLITS.items())})
IDENTIFIERS_PER_KIND = 40
MAX_ANSWER_CHARS = 60

Qrels = dict[str, dict[str, dict[str, int]]]  # split -> query id -> section id -> relevance


class EvalQueries(NamedTuple):
    """An evaluation set's BEIR query records (`_id`, `text`, `metadata`) and its qrels per split."""

    queries: list[dict]
    qrels: Qrels


# ---------------------------------------------------------------- reST helpers

_DIRECTIVE = re.compile(r"(?P<indent>[ \t]*)\.\. (?P<kind>[\w:-]+)::(?:[ \t]+(?P<arg>.*?))?[ \t]*$")
_CODE_DIRECTIVES = {"code-block", "code", "sourcecode", "console", "parsed-literal", "doctest"}
VERSION_NUMBER = re.compile(r"\d+\.\d+(?:\.\d+)?")
OBJECT_KINDS = {
    "attribute", "method", "classmethod", "staticmethod", "function", "class", "exception", "data",
    "decorator", "django-admin", "django-admin-option", "templatetag", "templatefilter", "setting",
    "fieldlookup", "envvar",
}  # fmt: skip
_MEMBER_KINDS = {"attribute", "method", "classmethod", "staticmethod"}
_CLASS_KINDS = {"class", "exception"}
KIND_WORDS = {
    "attribute": "attribute", "method": "method", "classmethod": "class method",
    "staticmethod": "static method", "function": "function", "class": "class", "exception": "exception",
    "data": "object", "decorator": "decorator", "django-admin": "management command",
    "django-admin-option": "option",
    "templatetag": "template tag", "templatefilter": "template filter", "setting": "setting",
    "fieldlookup": "field lookup", "envvar": "environment variable",
}  # fmt: skip


def contains_answer(section_text: str, answer: str) -> bool:
    """Whether `answer` appears literally in the section once both are cleaned of markup."""
    return clean_markup(answer) in clean_markup(section_text)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def literal_mask(lines: list[str]) -> list[bool]:
    """For each line, whether it sits inside a literal block (after `::` or in a code directive)."""
    mask = [False] * len(lines)
    i = 0
    while i < len(lines):
        line = lines[i]
        directive = _DIRECTIVE.fullmatch(line)
        opens = directive["kind"] in _CODE_DIRECTIVES if directive else line.rstrip().endswith("::")
        if opens and not mask[i]:
            base = _indent(line)
            j = i + 1
            while j < len(lines) and (not lines[j].strip() or _indent(lines[j]) > base):
                mask[j] = True
                j += 1
            i = j
            continue
        i += 1
    return mask


def jsonl_bytes(records: list[dict]) -> bytes:
    """One compact JSON object per line (sorted keys, UTF-8): the committed files' exact format."""
    lines = (json.dumps(r, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n" for r in records)
    return "".join(lines).encode("utf-8")


# ---------------------------------------------------------------- the shared corpus


def is_faq_question(section: dict) -> bool:
    """A question heading in docs/faq/*.txt (its section body is the answer)."""
    return section["path"].startswith("faq/") and section["title"].rstrip().endswith("?")


def without_faq_questions(sections: list[dict]) -> list[dict]:
    """The sections with every FAQ question taken out of its answer's section (its title and the last
    step of its heading trail). The faq set asks those questions: left in, a retriever would find each
    answer by matching the question word for word, a lookup rather than retrieval."""
    return [
        {**section, "title": "", "trail": section["trail"][:-1]} if is_faq_question(section) else section
        for section in sections
    ]


def corpus_records(sections: list[dict]) -> list[dict]:
    """BEIR corpus records for every section; FAQ questions are removed from their answers' titles."""
    records = []
    for section in without_faq_questions(sections):
        trail = section["trail"]
        records.append(
            {
                "_id": section["id"],
                "title": " > ".join(trail),
                "text": section["text"],
                "metadata": {"path": section["path"]},
            }
        )
    return records


# ---------------------------------------------------------------- faq


def build_faq(sections: list[dict]) -> EvalQueries:
    """The real FAQ questions, each judged relevant to its (non-empty) answer section."""
    queries, qrels = [], {}
    for section in sections:
        if not is_faq_question(section) or not section["text"].strip():
            continue
        qid = "faq/" + section["id"].split("/", 1)[1].removeprefix("faq/")
        metadata = {"kind": "faq", "source_path": section["path"], "split": "test"}
        queries.append({"_id": qid, "text": clean_markup(section["title"]), "metadata": metadata})
        qrels[qid] = {section["id"]: 1}
    return EvalQueries(sorted(queries, key=lambda q: q["_id"]), {"test": qrels})


# ---------------------------------------------------------------- directives in the sections


class Directive(NamedTuple):
    """One object directive found in a section (outside literal blocks)."""

    section: dict
    kind: str
    name: str  # qualified where the directive is nested in a class directive
    argument: str
    command: str | None  # the django-admin command in force (for options)
    added: str | None  # the version of a `.. versionadded::` that introduces this object
    line: int  # index of the directive's line in the section text


def _object_name(kind: str, argument: str) -> str:
    if kind in {"django-admin", "django-admin-option"}:
        return argument.split()[0] if argument.split() else ""
    return argument.split("(", 1)[0].strip()


def _next_block(lines: list[str], start: int, indent: int) -> int | None:
    """Index of the first non-blank line after `start`, skipping the directive's `:option:` lines."""
    for j in range(start + 1, len(lines)):
        line = lines[j]
        if not line.strip() or (_indent(line) > indent and line.strip().startswith(":")):
            continue
        return j
    return None


def _version_added(line: str) -> str | None:
    match = _DIRECTIVE.fullmatch(line)
    if match and match["kind"] == "versionadded" and VERSION_NUMBER.fullmatch(match["arg"] or ""):
        return match["arg"]
    return None


def _is_bodyless(lines: list[str], index: int) -> bool:
    following = _next_block(lines, index, _indent(lines[index]))
    return following is None or _indent(lines[following]) <= _indent(lines[index])


def _opens_object(lines: list[str], index: int, mask: list[bool]) -> bool:
    """Whether a bare `versionadded` at `index` is directly followed by an object directive at its indent."""
    nxt = _next_block(lines, index, _indent(lines[index]))
    if not _is_bodyless(lines, index) or nxt is None or mask[nxt]:
        return False
    if _indent(lines[nxt]) != _indent(lines[index]):
        return False
    directive = _DIRECTIVE.fullmatch(lines[nxt])
    return bool(directive and directive["kind"] in OBJECT_KINDS)


def _added_by(lines: list[str], index: int, mask: list[bool]) -> str | None:
    """Version of the `versionadded` that introduces the directive at `index`, if any.

    Inside the directive (its first content) or right after a bodyless one, unless it then opens another
    object; or, for a directive at the top of a section, a bare `versionadded` written just before it.
    """
    indent = _indent(lines[index])
    nxt = _next_block(lines, index, indent)
    if nxt is not None and not mask[nxt]:
        version = _version_added(lines[nxt])
        inside = _indent(lines[nxt]) > indent
        if version and (inside or (_indent(lines[nxt]) == indent and not _opens_object(lines, nxt, mask))):
            return version
    before = [j for j in range(index) if lines[j].strip()]
    if indent == 0 and before and all(_DIRECTIVE.fullmatch(lines[j]) and lines[j][0] == "." for j in before):
        if _opens_object(lines, before[-1], mask):
            return _version_added(lines[before[-1]])
    return None


def iter_directives(sections: list[dict]) -> Iterator[Directive]:
    """Object directives in document order, with class nesting and the current django-admin command."""
    path, command = None, None
    for section in sections:
        if section["path"] != path:
            path, command = section["path"], None
        lines = section["text"].split("\n")
        mask = literal_mask(lines)
        stack: list[tuple[int, str, str]] = []
        for index, line in enumerate(lines):
            match = None if mask[index] else _DIRECTIVE.fullmatch(line)
            if not match:
                continue
            indent, kind, argument = len(match["indent"]), match["kind"], (match["arg"] or "").strip()
            if kind == "program":
                command = None if argument in {"", "None"} else argument.split()[0]
            if kind not in OBJECT_KINDS:
                continue
            while stack and stack[-1][0] >= indent:
                stack.pop()
            name = _object_name(kind, argument)
            if kind in _MEMBER_KINDS and "." not in name and stack and stack[-1][1] in _CLASS_KINDS:
                name = f"{stack[-1][2]}.{name}"
            if kind == "django-admin":
                command = name
            stack.append((indent, kind, name))
            yield Directive(section, kind, name, argument, command, _added_by(lines, index, mask), index)


# ---------------------------------------------------------------- facts


_SETTING_NAME = re.compile(r"[A-Z][A-Z0-9_]+")
_DEFAULT_VALUE = re.compile(r"(?P<value>(?:``.+?``|:[\w.+-]+(?::[\w.+-]+)*:`[^`]+`|\\ )+)(?P<rest>.*)")
_PY = r"\d+\.\d+(?: \(as of [\d.]+\))?"  # a Python version, maybe "(as of <Django patch release>)"
_PYTHON_SUPPORT = re.compile(
    rf"Django (\d+\.\d+) (?:supports|requires) Python ({_PY}(?:,? (?:and |or )?{_PY})*)\.(?!\d)"
)


def _split_for(queries: list[dict]) -> None:
    """Assign dev/test by alternating over each kind's queries ordered by sha256(id): stable and 50/50."""
    by_kind: dict[str, list[dict]] = {}
    for query in queries:
        by_kind.setdefault(query["metadata"]["kind"], []).append(query)
    for group in by_kind.values():
        group.sort(key=lambda q: hashlib.sha256(q["_id"].encode("utf-8")).hexdigest())
        for rank, query in enumerate(group):
            query["metadata"]["split"] = "test" if rank % 2 == 0 else "dev"


def default_value(line: str) -> str | None:
    """The concrete value of a `Default: ...` line, markup removed, or None when there is none."""
    if not line.startswith("Default:"):
        return None
    match = _DEFAULT_VALUE.fullmatch(line[len("Default:") :].strip())
    if not match or not re.fullmatch(r"(\(.*\))?\.?", match["rest"].strip()):
        return None
    value = clean_markup(match["value"])
    return value if value and len(value) <= MAX_ANSWER_CHARS else None


def _setting_parents(section: dict) -> list[str]:
    """Enclosing headings that are setting names themselves (DATABASES > TEST > USER): nested keys."""
    titles = [clean_markup(title) for title in section["trail"][:-1]]
    return [title for title in titles if _SETTING_NAME.fullmatch(title)]


def _setting_label(directive: Directive) -> str:
    parents = _setting_parents(directive.section)
    if not parents:
        return f"the {directive.name} setting"
    keys = parents[1:] + [clean_markup(directive.section["title"])]
    return f"the {parents[0]}" + "".join(f"['{key}']" for key in keys) + " setting"


def _setting_default_facts(sections: list[dict]) -> Iterator[tuple[str, str, str, list[str], dict]]:
    for directive in iter_directives(sections):
        if directive.kind != "setting":
            continue
        lines = directive.section["text"].split("\n")
        for i in range(directive.line + 1, len(lines)):
            if lines[i].startswith(".. setting::"):
                break
            if lines[i].startswith("Default:"):
                continuation = i + 1 < len(lines) and lines[i + 1].strip()
                value = None if continuation else default_value(lines[i])
                if value:
                    label = _setting_label(directive)
                    question = f"What is the default value of {label}?"
                    paraphrases = [
                        f"If a project does not set {label}, what value does Django use?",
                        f"What does {label} default to?",
                    ]
                    yield f"setting-default/{directive.name}", question, value, paraphrases, directive.section
                break


def _version_added_facts(sections: list[dict]) -> Iterator[tuple[str, str, str, list[str], dict]]:
    for directive in iter_directives(sections):
        if not directive.added or not directive.name:
            continue
        name = directive.name + ("()" if directive.kind in {"function", "method", "classmethod"} else "")
        word = KIND_WORDS[directive.kind]
        if directive.kind == "django-admin-option" and directive.command:
            label = f"the {name} option of the {directive.command} command"
        else:
            label = f"the {word} {name}"
        question = f"In which Django version was {label} added?"
        paraphrases = [
            f"Which Django release introduced {label}?",
            f"Since which version of Django is {label} available?",
        ]
        key = f"version-added/{directive.kind}/{name}"
        if directive.kind == "django-admin-option":
            key = f"version-added/{directive.kind}/{directive.command}/{name}"
        yield key, question, directive.added, paraphrases, directive.section


def _python_support_facts(sections: list[dict]) -> Iterator[tuple[str, str, str, list[str], dict]]:
    for section in sections:
        release = re.fullmatch(r"releases/(\d+\.\d+)\.txt", section["path"])
        if not release or clean_markup(section["title"]) != "Python compatibility":
            continue
        match = _PYTHON_SUPPORT.search(clean_markup(section["text"]))
        if not match or match[1] != release[1]:
            continue
        version = match[1]
        question = f"Which Python versions does Django {version} support?"
        paraphrases = [
            f"Django {version} is compatible with which versions of Python?",
            f"What Python versions can be used with Django {version}?",
        ]
        yield f"python-support/{version}", question, match[2], paraphrases, section


def build_facts(sections: list[dict]) -> EvalQueries:
    """Template questions with a short gold answer found literally in the gold section; dev/test halves."""
    found: dict[str, dict] = {}
    gold: dict[str, dict[str, int]] = {}
    ambiguous: set[str] = set()  # the same question with two different answers: dropped
    makers = {
        "setting_default": _setting_default_facts,
        "version_added": _version_added_facts,
        "python_support": _python_support_facts,
    }
    for kind, maker in makers.items():
        for key, question, answer, paraphrases, section in maker(sections):
            if not contains_answer(section["text"], answer):
                raise AssertionError(f"answer {answer!r} of {key!r} is not in gold section {section['id']}")
            qid = f"facts/{key}"
            if qid in found and found[qid]["metadata"]["answer"] != answer:
                ambiguous.add(qid)
            metadata = {
                "answer": answer,
                "kind": kind,
                "paraphrases": paraphrases,
                "source_path": section["path"],
            }
            found.setdefault(qid, {"_id": qid, "text": question, "metadata": metadata})
            gold.setdefault(qid, {})[section["id"]] = 1
    queries = sorted((q for q in found.values() if q["_id"] not in ambiguous), key=lambda q: q["_id"])
    _split_for(queries)
    qrels: Qrels = {"dev": {}, "test": {}}
    for query in queries:
        qrels[query["metadata"]["split"]][query["_id"]] = gold[query["_id"]]
    return EvalQueries(queries, qrels)


# ---------------------------------------------------------------- identifiers


_CHECK_ID = re.compile(r"^\* \*\*(?P<id>[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)*\.[A-Z]\d{3})\*\*", re.M)
_LONG_OPTION = re.compile(r"--[\w-]+")


def _identifier_candidates(sections: list[dict]) -> dict[str, dict[str, set[str]]]:
    """kind -> identifier text -> ids of the sections that define it."""
    found: dict[str, dict[str, set[str]]] = {"setting": {}, "check": {}, "option": {}}
    for directive in iter_directives(sections):
        sid = directive.section["id"]
        top_level = not _setting_parents(directive.section)
        if directive.kind == "setting" and _SETTING_NAME.fullmatch(directive.name) and top_level:
            found["setting"].setdefault(directive.name, set()).add(sid)
        elif directive.kind == "django-admin-option" and directive.command:
            option = _LONG_OPTION.search(directive.argument)
            if option:
                found["option"].setdefault(f"{directive.command} {option[0]}", set()).add(sid)
    for section in sections:
        if section["path"] == "ref/checks.txt":
            for match in _CHECK_ID.finditer(section["text"]):
                found["check"].setdefault(match["id"], set()).add(section["id"])
    return found


def spread_sample(items: list[str], k: int) -> list[str]:
    """k items spread evenly over a sorted list (all of them when there are at most k)."""
    items = sorted(items)
    if len(items) <= k:
        return items
    return [items[i * len(items) // k] for i in range(k)]


def build_identifiers(sections: list[dict], per_kind: int = IDENTIFIERS_PER_KIND) -> EvalQueries:
    """Bare identifiers (setting names, system check ids, "<command> <option>") -> defining sections."""
    if per_kind < 1:
        raise ValueError(f"per_kind must be a positive integer, got {per_kind!r}")
    by_id = {s["id"]: s for s in sections}
    queries, qrels = [], {}
    for kind, candidates in sorted(_identifier_candidates(sections).items()):
        for text in spread_sample(list(candidates), per_kind):
            literal = text.split(" ", 1)[1] if kind == "option" else text
            for sid in candidates[text]:
                if literal not in by_id[sid]["text"]:
                    raise AssertionError(f"identifier {literal!r} is not in its gold section {sid}")
            qid = f"identifiers/{kind}/{text.replace(' ', '/')}"
            source = by_id[min(candidates[text])]["path"]
            metadata = {"kind": kind, "source_path": source, "split": "test"}
            queries.append({"_id": qid, "text": text, "metadata": metadata})
            qrels[qid] = {sid: 1 for sid in sorted(candidates[text])}
    return EvalQueries(sorted(queries, key=lambda q: q["_id"]), {"test": qrels})


# ---------------------------------------------------------------- writing


def qrels_tsv(qrels: dict[str, dict[str, int]]) -> bytes:
    """A BEIR qrels file: header `query-id corpus-id score`, then one sorted row per pair."""
    rows = ["query-id\tcorpus-id\tscore"]
    for qid in sorted(qrels):
        rows.extend(f"{qid}\t{doc}\t{score}" for doc, score in sorted(qrels[qid].items()))
    return ("\n".join(rows) + "\n").encode("utf-8")


def write_beir(directory: Path, corpus: bytes, evalset: EvalQueries) -> dict[str, dict]:
    """Write corpus.jsonl, queries.jsonl and qrels/<split>.tsv; return counts per file (relative path)."""
    (directory / "qrels").mkdir(parents=True, exist_ok=True)
    (directory / "corpus.jsonl").write_bytes(corpus)
    (directory / "queries.jsonl").write_bytes(jsonl_bytes(evalset.queries))
    counts = {
        "corpus.jsonl": {"documents": corpus.count(b"\n")},
        "queries.jsonl": {"queries": len(evalset.queries)},
    }
    kinds = {q["_id"]: q["metadata"]["kind"] for q in evalset.queries}
    for split, qrels in sorted(evalset.qrels.items()):
        (directory / "qrels" / f"{split}.tsv").write_bytes(qrels_tsv(qrels))
        per_kind: dict[str, int] = {}
        for qid in qrels:
            per_kind[kinds[qid]] = per_kind.get(kinds[qid], 0) + 1
        pairs = sum(len(v) for v in qrels.values())
        counts[f"qrels/{split}.tsv"] = {"queries": len(qrels), "pairs": pairs, "kinds": per_kind}
    return counts


def mini_section_ids(sections: list[dict], gold: set[str]) -> set[str]:
    """Gold sections, their neighbours on the same page (hard negatives) and seeded random distractors."""
    keep: set[int] = set()
    positions = {section["id"]: i for i, section in enumerate(sections)}
    for section_id in sorted(gold):
        i = positions[section_id]
        for j in range(i - MINI_NEIGHBOURS, i + MINI_NEIGHBOURS + 1):
            if 0 <= j < len(sections) and sections[j]["path"] == sections[i]["path"]:
                keep.add(j)
    rest = [i for i in range(len(sections)) if i not in keep]
    keep.update(random.Random(MINI_SEED).sample(rest, min(MINI_DISTRACTORS, len(rest))))
    return {sections[i]["id"] for i in keep}


def build_evalsets(sections: list[dict], out_dir: Path) -> dict[str, dict]:
    """Build and write faq, facts and identifiers under out_dir/<name>/ with one shared corpus, and
    the same queries under out_dir/<name>-mini/ with the smaller shared corpus."""
    records = corpus_records(sections)
    corpus = jsonl_bytes(records)
    builders = {"faq": build_faq, "facts": build_facts, "identifiers": build_identifiers}
    built = {name: builder(sections) for name, builder in builders.items()}
    gold = {d for e in built.values() for split in e.qrels.values() for rel in split.values() for d in rel}
    mini_ids = mini_section_ids(sections, gold)
    mini_corpus = jsonl_bytes([r for r in records if r["_id"] in mini_ids])
    counts = {}
    for name, evalset in built.items():
        for folder, text in ((name, corpus), (f"{name}{MINI_SUFFIX}", mini_corpus)):
            for relative, numbers in write_beir(out_dir / folder, text, evalset).items():
                counts[f"{folder}/{relative}"] = numbers
    return counts
