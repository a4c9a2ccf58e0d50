"""FAQ answers that only point elsewhere ("See :ref:`bans`."), and a fusion's margin split by them.

An FAQ collection judges the FAQ's own answer relevant. When that answer is a link and little more, the words
that answer the question sit in the section it links to, which is not judged: BM25 has almost nothing to
match, and the judged stub is found, if at all, by dense matching the question to its heading. Splitting a
set's questions by the kind of answer shows how much of a fusion's margin rests on such judgments
(notebook 04, `python -m ragft bench pointers`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ragft.retrieval.defaults_study import CollectionRuns

# Three patterns, one idea (a reference to follow). REFERENCE only tells whether an answer holds one: a Sphinx
# cross-reference (:ref:`label`, :doc:`page`) or a reST hyperlink reference (`text <url>`_, `name`_).
# _ROLE and _LINK take the cross-references and the hyperlinks apart to find what they name.
REFERENCE = re.compile(r":(?:ref|doc):`|`[^`]+`_")
_ROLE = re.compile(r":(ref|doc):`(?:[^`<]*<)?([^`<>]+)>?`")  # :ref:`label`, :doc:`text </path>`
_LINK = re.compile(r"`([^`<]+?)\s*(?:<([^`>]+)>)?`_")  # `Title`_, `text <page.html#anchor>`_
_ANY_ROLE = re.compile(r":[\w:-]+:`[^`]*`")  # any Sphinx role, taken out before hyperlinks are read
POINTER_MAX_WORDS = 20  # an answer this short that holds a reference only points elsewhere
WORD_LIMITS = (10, 15, 20, 30, 40)  # the limit tried in turn, to show the split does not hinge on it
KINDS = ("points elsewhere", "answers itself")
# names in the tuned-defaults record's "shown": the fusion first chosen for tuned models (the one whose
# shortfall on SQLAlchemy's FAQ this module explains) and the one chosen for the released model
FUSIONS = ("hybrid, first tuned fusion", "hybrid, untuned fusion")
SINGLES = ("bm25", "bm25 document", "dense")


def is_pointer(text: str, max_words: int = POINTER_MAX_WORDS) -> bool:
    """Whether an answer only points elsewhere: it holds a cross-reference or link and at most `max_words`
    words.

    A rule of thumb, read on the words alone. A role that names an API object (:class:, :setting:) is not a
    reference here: its name is a word BM25 can match. So "See previous question." (nothing to follow) is
    missed, and a short answer that says something and links a term in passing (Scrapy's "Try changing the
    default `Accept-Language`_ request header ...") is counted."""
    if max_words < 1:
        raise ValueError(f"max_words must be >= 1, got {max_words}")
    return bool(REFERENCE.search(text)) and len(text.split()) <= max_words


def pointer_answers(
    corpus: dict[str, dict], judged: dict[str, int], max_words: int = POINTER_MAX_WORDS
) -> list[str]:
    """The judged answers of one question (document -> grade) that are relevant and only point elsewhere,
    sorted. A judged document missing from the corpus has no text, so it points nowhere."""
    return sorted(
        doc
        for doc, grade in judged.items()
        if grade > 0 and is_pointer(corpus.get(doc, {}).get("text", ""), max_words)
    )


def pointer_questions(
    corpus: dict[str, dict], qrels: dict[str, dict[str, int]], max_words: int = POINTER_MAX_WORDS
) -> set[str]:
    """The questions of `qrels` (query id -> judged document -> grade) with a judged answer that only
    points elsewhere (see is_pointer)."""
    return {query for query, judged in qrels.items() if pointer_answers(corpus, judged, max_words)}


def _sections_of_page(corpus: dict[str, dict], release: str, page: str) -> list[str]:
    return [doc for doc in corpus if doc.startswith(f"{release}/{page}#")]


def linked_sections(
    text: str, answer_id: str, corpus: dict[str, dict], queries: dict[str, dict], qrels: dict[str, dict]
) -> tuple[list[str], list[str]]:
    """(sections of the corpus an answer links to, the references that name none of them).

    :ref:`label` names the section whose id ends in that label, else the one whose text defines it
    (`.. _label:` inside a section); :doc:`path` and `text <page.html>`_ a page's first section
    (`page.html#anchor`: that section only); `Title`_ the section so titled (on the answer's page first), or
    the FAQ question so worded (its judged answer). Links to other sites name nothing in the collection.
    """
    release, rest = answer_id.split("/", 1)
    page_of_answer = rest.split("#", 1)[0]
    folder = page_of_answer.rpartition("/")[0]
    found: list[str] = []
    missing: list[str] = []

    def page_path(target: str) -> str:
        return target.lstrip("/") if target.startswith("/") else "/".join(p for p in (folder, target) if p)

    def on_page(page: str, anchor: str = "") -> list[str]:
        sections = _sections_of_page(corpus, release, page)
        if not anchor:
            return sections[:1]
        return [doc for doc in sections if doc.lower().endswith(f"#{anchor.lower()}")]

    def labelled(label: str) -> list[str]:
        label = label.strip()
        ids = [doc for doc in corpus if doc.split("#", 1)[-1].lower() == label.lower()]
        return ids or [doc for doc, d in corpus.items() if f".. _{label}:" in d.get("text", "")]

    def titled(title: str) -> list[str]:
        ids = [doc for doc, d in corpus.items() if d.get("title", "").split(" > ")[-1].strip() == title]
        here = [doc for doc in ids if doc.startswith(f"{release}/{page_of_answer}#")]
        asked = [doc for q, query in queries.items() if query["text"] == title for doc in qrels.get(q, {})]
        return here or ids or asked

    for role, target in _ROLE.findall(text):
        ids = labelled(target) if role == "ref" else on_page(page_path(target.strip()))
        if ids:
            found.extend(ids)
        else:
            missing.append(f":{role}:`{target}`")
    for title, url in _LINK.findall(_ANY_ROLE.sub("", text)):
        if url and "://" in url:
            ids = []
        elif url:
            page, _, anchor = url.partition("#")
            ids = on_page(page_path(page.removesuffix(".html")), anchor)
        else:
            ids = titled(title)
        if ids:
            found.extend(ids)
        else:
            missing.append(f"`{title} <{url}>`_" if url else f"`{title}`_")
    return [doc for doc in dict.fromkeys(found) if doc != answer_id], missing


def following_links(
    qrels: dict[str, dict[str, int]], links: dict[str, list[str]]
) -> dict[str, dict[str, int]]:
    """The judgments with each linked section also judged relevant (grade 1) for its question."""
    return {q: {**{doc: 1 for doc in links.get(q, [])}, **judged} for q, judged in qrels.items()}


def answer_links(
    corpus: dict[str, dict],
    queries: dict[str, dict],
    qrels: dict[str, dict[str, int]],
    max_words: int = POINTER_MAX_WORDS,
) -> dict[str, list[tuple[str, list[str], list[str]]]]:
    """Each question with a judged answer that only points elsewhere (sorted) -> (that answer's id, the
    sections it links to, the references that name none) for each such answer."""
    links = {}
    for q in sorted(qrels):
        answers = pointer_answers(corpus, qrels[q], max_words)
        if answers:
            links[q] = [(a, *linked_sections(corpus[a]["text"], a, corpus, queries, qrels)) for a in answers]
    return links


def _judged_following(runs: CollectionRuns, found: dict[str, list]) -> CollectionRuns:
    """runs with the sections in answer_links' `found` judged relevant too."""
    from dataclasses import replace

    links = {q: [d for _, linked, _ in answers for d in linked] for q, answers in found.items()}
    return replace(runs, qrels=following_links(runs.qrels, links))


def split_margins(
    scores: dict[str, Sequence[float]],
    query_ids: Sequence[str],
    pointers: Iterable[str],
    fusion: str,
    singles: Sequence[str] = SINGLES,
) -> dict:
    """A fusion's margin over the set's better single method (chosen on all its questions), over all
    questions and over each kind of answer: n, the two nDCG@10s and the paired 95% interval of the margin.

    `scores` maps a method's name to its per-query nDCG@10 in `query_ids` order (a record's "per_query")."""
    import numpy as np

    from ragft.runtime.stats import paired_bootstrap

    missing = [name for name in (fusion, *singles) if name not in scores]
    if missing:
        raise ValueError(f"scores has no {missing}; it has {sorted(scores)}")
    better = max(singles, key=lambda name: float(np.mean(scores[name])))
    pointers = set(pointers)
    groups = {
        "all": list(query_ids),
        KINDS[0]: [q for q in query_ids if q in pointers],
        KINDS[1]: [q for q in query_ids if q not in pointers],
    }
    fused = dict(zip(query_ids, scores[fusion], strict=True))
    single = dict(zip(query_ids, scores[better], strict=True))
    rows = {}
    for kind, ids in groups.items():
        if not ids:
            rows[kind] = {"queries": 0}
            continue
        mean, low, high = paired_bootstrap({q: fused[q] for q in ids}, {q: single[q] for q in ids})
        rows[kind] = {
            "queries": len(ids),
            "fusion": round(float(np.mean([fused[q] for q in ids])), 4),
            "better single": round(float(np.mean([single[q] for q in ids])), 4),
            "margin": round(mean, 4),
            "95% low": round(low, 4),
            "95% high": round(high, 4),
        }
    return {"better single": better, "by answer": rows}


RECORD = "retrieval_pointers"
COMMAND = "python -m ragft bench pointers --save"
JUDGMENTS = ("the collection's", "following the links")  # as built; with linked sections judged too


def faq_sets() -> list[tuple[str, str]]:
    """(folder, split) of the FAQ sets of the tuned-defaults study (dev, test and held out, in its first study
    or in the second)."""
    from ragft.retrieval import tuned_defaults as td

    return [(folder, split) for folder, split in td.study_sets() if folder.endswith("faq")]


def _first_headings(corpus: dict[str, dict]) -> dict[str, str]:
    """doc id -> the heading trail of its first chunk (what tuning pairs a section's text with)."""
    from ragft.retrieval.retrieval_eval import chunk_collection

    headings: dict[str, str] = {}
    for chunk in chunk_collection(corpus):
        headings.setdefault(chunk.doc_id, chunk.context)
    return headings


def set_report(runs: CollectionRuns, directory: Path, max_words: int = POINTER_MAX_WORDS) -> dict:
    """One FAQ set: its pointer answers and what they link to (and whether tuning saw the linked heading),
    per-query nDCG@10 of the configs shown under both JUDGMENTS, both fusions' margins split by kind of
    answer, and the answers-itself margin at each of WORD_LIMITS."""
    return _set_report(runs, directory, max_words)[0]


def _set_report(runs: CollectionRuns, directory: Path, max_words: int) -> tuple[dict, CollectionRuns]:
    """set_report, and the set's runs judged following its links (what it scored the second judgments on)."""
    from ragft.corpus.data import load_beir
    from ragft.retrieval import defaults_study as st
    from ragft.retrieval import tuned_defaults as td
    from ragft.retrieval.domain_tuning import collection_pairs

    corpus, queries, _ = load_beir(directory)
    tuned_on = {heading for heading, _ in collection_pairs(directory)[0]}
    headings = _first_headings(corpus)
    found = answer_links(corpus, queries, runs.qrels, max_words)
    pointers = set(found)
    listed = [
        {
            "id": q,
            "question": queries[q]["text"],
            "answer_id": answer,
            "answer": corpus[answer]["text"],
            "linked": [
                {"id": d, "title": corpus[d].get("title", ""), "tuned_on": headings.get(d) in tuned_on}
                for d in linked
            ],
            "unresolved": missing,
        }
        for q, answers in found.items()
        for answer, linked, missing in answers
    ]
    followed = _judged_following(runs, found)
    judged = dict(zip(JUDGMENTS, (runs, followed), strict=True))
    shown = td.configs_shown()
    per_query = {
        name: {label: st.per_query_ndcg(r, c).round(4).tolist() for label, c in shown.items()}
        for name, r in judged.items()
    }
    ids = runs.query_ids
    row = {
        "pointers": listed,
        "query_ids": ids,
        "per_query": per_query,
        "margins": {
            name: {fusion: split_margins(per_query[name], ids, pointers, fusion) for fusion in FUSIONS}
            for name in JUDGMENTS
        },
        "answers itself, by word limit": {
            str(limit): split_margins(
                per_query[JUDGMENTS[0]], ids, pointer_questions(corpus, runs.qrels, limit), FUSIONS[0]
            )["by answer"][KINDS[1]]
            for limit in WORD_LIMITS
        },
    }
    return row, followed


def report(threads: int = 1, show_progress: bool = True) -> dict:
    """Every FAQ set searched with MiniLM tuned on its collection (as in the tuned-defaults record), split
    by kind of answer and judged both ways (set_report); and the tuned-defaults study over all its sets run
    again with the FAQ sets judged following their links (does the choice change?)."""
    import torch

    from ragft.retrieval import defaults_study as st
    from ragft.retrieval import tuned_defaults as td
    from ragft.retrieval.doc_search import DEFAULT_VARIANT
    from ragft.retrieval.quantize import resolve_variant
    from ragft.runtime.budget import peak_rss_mb
    from ragft.runtime.paths import data_dir

    variant = resolve_variant(DEFAULT_VARIANT)
    torch.set_num_threads(threads)
    runs, _ = td.tuned_runs(td.study_sets(), variant, show_progress)
    sets, followed = {}, dict(runs)  # every FAQ set judged following its links, the other sets as they are
    for key in (st.set_key(*s) for s in faq_sets()):
        sets[key], followed[key] = _set_report(
            runs[key], data_dir() / "eval" / runs[key].name, POINTER_MAX_WORDS
        )
    again = st.study(followed, td.candidates(), td.single_configs())  # on the first study's dev sets
    tuned_choice = st.config_label(td.configs_shown()[FUSIONS[0]])
    return {
        "command": COMMAND,
        "threads": threads,
        "variant": variant,
        "max_words": POINTER_MAX_WORDS,
        "shown": {name: st.config_label(c) for name, c in td.configs_shown().items()},
        "sets": sets,
        # the tuned-defaults study run again with every FAQ set judged following its links
        "chosen again, links followed": {
            "choice": again["choice"],
            "same as the first tuned fusion": again["choice"] == tuned_choice,
            "margin": {
                key: round(row[again["choice"]] - max(row[s] for s in again["singles"]), 4)
                for key, row in again["ndcg@10"].items()
            },
            "ceiling": {
                "worst margin": again["ceiling"]["joint"]["worst margin"],
                "within tolerance everywhere": again["ceiling"]["within tolerance everywhere"],
                "candidates": again["ceiling"]["candidates"],
            },
        },
        "peak_mb": round(peak_rss_mb()),
    }
