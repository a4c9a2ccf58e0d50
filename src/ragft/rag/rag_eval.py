"""Evaluating RAG answers: generation metrics, kept apart from retrieval metrics, and a failure taxonomy.

Retrieval is scored on the ranking (recall@k, MRR, nDCG: ragft.retrieval.metrics); generation on the answer:
- correct: the answer contains the gold answer (ragft.rag.answers.answer_matches);
- supported: the value the answer states appears in the passages the model was given;
- citation correct: a cited chunk covers the gold section.

Every wrong answer falls in one class of the taxonomy, each with its own diagnostic (DIAGNOSTICS):
not retrieved (the gold section is not in the top k), retrieved but ignored (it is, and the answer is
still wrong) and not in the store (no indexed document contains the fact at all).
`run_rag_eval` runs the whole experiment of notebook 05 and returns a JSON-ready dict.
"""

from __future__ import annotations

import functools
import random
import re
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from ragft.rag.answers import answer_matches, normalize_answer
from ragft.rag.pipeline import DEFAULT_K, DEFAULT_MAX_CHARS, GenerateFn, RagAnswer, extract_answer_span

FAILURE_CLASSES = ("correct", "not_retrieved", "retrieved_but_ignored", "not_in_store")
NOT_IN_STORE_OUTCOMES = ("abstained", "confabulated")
DIAGNOSTICS = {
    "not_retrieved": {
        "test": "the gold section is covered by none of the top-k chunks given to the model",
        "meaning": "the reader never saw the answer; output quality is capped by retrieval",
        "fix": "improve retrieval: chunking, hybrid search, query rewriting, a larger k, reranking",
    },
    "retrieved_but_ignored": {
        "test": "a chunk of the gold section is in the prompt, and the answer is still wrong",
        "meaning": "the reader failed: it did not find, or did not copy, the answer in front of it "
        "(check whether the answer text survived truncation: if not, the context budget cut it)",
        "fix": "a stronger reader, fewer and shorter passages, a clearer prompt, or tuning the reader's "
        "behavior to quote its context (fine-tuning for behavior, not for facts)",
    },
    "not_in_store": {
        "test": "the fact appears in no indexed document (its identifier is absent from the whole store)",
        "meaning": "no retriever can help; the right output is 'I don't know'; anything else confabulates",
        "fix": "add the documents (update the store), and teach or prompt the model to abstain",
    },
}
MIN_TERM_LENGTH = 4
ABSTENTION = re.compile(
    r"\b(?:i\s+(?:do\s+not|don't|cannot|can't)\s+know|not\s+(?:mentioned|specified|provided|stated|given|"
    r"available|found|included)|no\s+information|(?:does\s+not|doesn't|do\s+not|don't)\s+"
    r"(?:say|mention|specify|contain|provide|state)|cannot\s+(?:be\s+)?(?:determined|answered|found|"
    r"determine|answer|find)|unknown|not\s+sure)\b",
    re.I,
)


# ------------------------------------------------------------------------------------------- answer checks
def is_abstention(answer: str) -> bool:
    """True when the answer declines ("I don't know", "not mentioned in the passages", ...)."""
    return bool(ABSTENTION.search(answer))


_VALUE_AFTER = re.compile(r"(?:\bto|:)\s+([^:]+?)\s*\.?$", re.I)


def is_supported(answer: str, contexts: Sequence[str]) -> bool:
    """True when the value the answer states appears in the passages it was given: its extracted span, or,
    for a sentence with no "is" ("Set X to 25M."), the words after its last "to" or ":"."""
    span = extract_answer_span(answer)
    candidates = [span]
    tail = _VALUE_AFTER.search(span)
    if tail:
        candidates.append(tail.group(1))
    texts = [normalize_answer(text) for text in contexts]
    return any(value and any(value in text for text in texts) for value in map(normalize_answer, candidates))


def covers_gold(
    chunk_ids: Iterable[str], chunk_sections: Mapping[str, Sequence[str]], gold_sections: Iterable[str]
) -> bool:
    """True when any of the chunks covers one of the gold sections."""
    gold = set(gold_sections)
    return any(gold.intersection(chunk_sections.get(cid, ())) for cid in chunk_ids)


def classify(correct: bool, gold_in_context: bool, in_store: bool = True) -> str:
    """The taxonomy class of one answer (see DIAGNOSTICS); a fact absent from the store is 'not_in_store'
    even when the answer happens to be right (it was a guess)."""
    if not in_store:
        return "not_in_store"
    if correct:
        return "correct"
    return "retrieved_but_ignored" if gold_in_context else "not_retrieved"


# ------------------------------------------------------------------------------------------- questions
_SETTING = re.compile(r"value of the (.+?) setting")


def subject_term(query: Mapping) -> str | None:
    """The identifier a fact question asks about (a setting name, the object's own name), or None."""
    kind = query.get("metadata", {}).get("kind")
    text = query.get("text", "")
    if kind == "setting_default":
        match = _SETTING.search(text)
        if not match:
            return None
        keys = re.findall(r"\['([^']+)'\]", match.group(1))
        return keys[-1] if keys else match.group(1)
    if kind == "version_added":
        match = re.search(r"(?:added|introduced)", text)
        words = text[: match.start()].split() if match else text.split()
        name = words[-1] if words else ""
        return name.removesuffix("()").split(".")[-1] or None
    return None


def term_in_texts(term: str, texts: Iterable[str]) -> bool:
    """True when term occurs as a whole word (case-sensitive) in any of the texts."""
    pattern = re.compile(rf"(?<![\w]){re.escape(term)}(?![\w])")
    return any(pattern.search(text) for text in texts)


def stratified_sample(kinds: Mapping[str, str], n: int, seed: int = 0) -> list[str]:
    """n ids drawn without replacement, each kind in proportion to its share (largest remainders), seeded."""
    if not 1 <= n <= len(kinds):
        raise ValueError(f"n must be between 1 and {len(kinds)} (the number of ids), got {n}")
    groups: dict[str, list[str]] = {}
    for qid in sorted(kinds):
        groups.setdefault(kinds[qid], []).append(qid)
    exact = {kind: n * len(ids) / len(kinds) for kind, ids in groups.items()}
    counts = {kind: int(value) for kind, value in exact.items()}
    for kind in sorted(exact, key=lambda g: (-(exact[g] - counts[g]), g))[: n - sum(counts.values())]:
        counts[kind] += 1
    rng = random.Random(seed)
    picked = [qid for kind in sorted(groups) for qid in rng.sample(groups[kind], counts[kind])]
    return sorted(picked)


# ------------------------------------------------------------------------------------------- scoring
def score_answer(
    result: RagAnswer,
    gold_answer: str,
    gold_sections: Iterable[str],
    chunk_sections: Mapping[str, Sequence[str]],
    in_store: bool = True,
) -> dict:
    """Everything the evaluation needs to know about one answer, as a flat JSON-ready record."""
    gold_sections = sorted(gold_sections)
    correct = answer_matches(result.answer, gold_answer)
    gold_in_context = covers_gold(result.context_ids, chunk_sections, gold_sections)
    return {
        "question": result.question,
        "gold": gold_answer,
        "answer": result.answer,
        "correct": correct,
        "gold_in_context": gold_in_context,
        "answer_in_prompt": any(answer_matches(text, gold_answer) for text in result.contexts),
        "supported": is_supported(result.answer, result.contexts),
        "abstained": is_abstention(result.answer),
        "citations": list(result.citations),
        "citation_source": result.citation_source,
        "citation_correct": covers_gold(result.citations, chunk_sections, gold_sections),
        "context_ids": list(result.context_ids),
        "in_store": in_store,
        "class": classify(correct, gold_in_context, in_store),
    }


def _share(records: Sequence[dict], key: str) -> float:
    return sum(bool(r[key]) for r in records) / len(records) if records else 0.0


def generation_metrics(records: Sequence[dict]) -> dict:
    """Shares over the answers: correct, supported, cited (by the model or attributed), citation correct."""
    cited = [r for r in records if r["citations"]]
    return {
        "questions": len(records),
        "correct": _share(records, "correct"),
        "supported": _share(records, "supported"),
        "abstained": _share(records, "abstained"),
        "cited": len(cited) / len(records) if records else 0.0,
        "cited_by_model": sum(r["citation_source"] == "model" for r in records) / len(records)
        if records
        else 0.0,
        "citation_correct": _share(records, "citation_correct"),
        "citation_precision": _share(cited, "citation_correct"),
    }


def taxonomy_counts(records: Sequence[dict]) -> dict[str, int]:
    """How many answers fall in each class of FAILURE_CLASSES (zeros kept)."""
    counts = Counter(r["class"] for r in records)
    unknown = set(counts) - set(FAILURE_CLASSES)
    if unknown:
        raise ValueError(f"class must be one of {FAILURE_CLASSES}, got {sorted(unknown)}")
    return {name: counts.get(name, 0) for name in FAILURE_CLASSES}


def not_in_store_outcomes(records: Sequence[dict]) -> dict[str, int]:
    """For questions the store cannot answer: abstained vs confabulated, and how the confabulations look."""
    confabulated = [r for r in records if not r["abstained"]]
    return {
        "questions": len(records),
        "abstained": len(records) - len(confabulated),
        "confabulated": len(confabulated),
        "confabulated_from_context": sum(r["supported"] for r in confabulated),
        "guessed_right": sum(r["correct"] for r in confabulated),
    }


ANSWERABLE_OUTCOMES = ("correct", "not_retrieved", "retrieved_but_ignored")
TAXONOMY_COLORS = {
    "correct": "#31a354",
    "not_retrieved": "#fdae6b",
    "retrieved_but_ignored": "#e6550d",
    "abstained": "#9e9ac8",
    "confabulated": "#8c6bb1",
}


def taxonomy_panels(results: Mapping) -> list[dict]:
    """The taxonomy as shares of two samples that are never mixed: the answerable test questions (correct,
    not retrieved, retrieved but ignored, each a share of that sample's n) and the not-in-store questions
    (abstained or confabulated, each a share of their own n). One row per outcome: panel, n, outcome,
    count, share and its 95% Wilson interval (low, high)."""
    from ragft.runtime.stats import wilson_interval

    answerable = taxonomy_counts(results["records"])
    if answerable["not_in_store"]:
        raise ValueError("records must hold answerable questions only; not-in-store ones are counted apart")
    stale = results["not_in_store"]
    panels = {
        "answerable": (len(results["records"]), {c: answerable[c] for c in ANSWERABLE_OUTCOMES}),
        "not in the store": (stale["questions"], {c: stale[c] for c in NOT_IN_STORE_OUTCOMES}),
    }
    rows = []
    for panel, (n, counts) in panels.items():
        if n < 1 or sum(counts.values()) != n:
            raise ValueError(f"{panel}: the outcomes must add up to the sample size {n}, got {counts}")
        for outcome, count in counts.items():
            low, high = wilson_interval(count, n)
            rows.append(
                {
                    "panel": panel,
                    "n": n,
                    "outcome": outcome,
                    "count": count,
                    "share": count / n,
                    "low": low,
                    "high": high,
                }
            )
    return rows


def taxonomy_figure(results: Mapping, title: str = "Where the RAG answers end up"):
    """Two panels, each titled with its own n: the answerable sample's classes and the not-in-store
    questions' outcomes, as shares of their sample with 95% Wilson intervals."""
    from matplotlib.figure import Figure

    rows = taxonomy_panels(results)
    panels = list(dict.fromkeys(r["panel"] for r in rows))
    fig = Figure(figsize=(10, 3.2))
    axes = fig.subplots(
        1, len(panels), sharex=True, gridspec_kw={"width_ratios": [3, 2]} if len(panels) == 2 else None
    )
    headings = {
        "answerable": "answerable test questions",
        "not in the store": "questions not in the store",
    }
    for ax, panel in zip(axes, panels, strict=True):
        mine = [r for r in rows if r["panel"] == panel][::-1]  # barh draws bottom-up: first outcome on top
        labels = [r["outcome"].replace("_", " ") for r in mine]
        shares = [r["share"] for r in mine]
        errors = [[r["share"] - r["low"] for r in mine], [r["high"] - r["share"] for r in mine]]
        ax.barh(labels, shares, xerr=errors, capsize=4, color=[TAXONOMY_COLORS[r["outcome"]] for r in mine])
        for y, r in enumerate(mine):
            ax.annotate(
                f"{r['count']}/{r['n']}",
                (r["high"], y),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
                fontsize=8,
            )
        ax.set_xlim(0, 1.15)
        ax.set_title(f"{headings.get(panel, panel)} (n={mine[0]['n']})", fontsize=10)
        ax.set_xlabel(f"share of the {mine[0]['n']} questions")
    axes[0].set_ylabel("outcome")
    fig.suptitle(f"{title} (bars: 95% Wilson intervals)", fontsize=11)
    fig.tight_layout()
    return fig


def examples_by_class(records: Sequence[dict]) -> dict[str, dict | None]:
    """The first record (in the given order) of each class, None for a class nobody fell into."""
    return {name: next((r for r in records if r["class"] == name), None) for name in FAILURE_CLASSES}


# ------------------------------------------------------------------------------------------- experiment
CORPORA = {"full": "facts", "mini": "facts-mini"}
RETRIEVAL_DEPTH = 10
STALE_VERSION = "4.2"


class _TimedGenerate:
    """Wraps a generate function to record seconds and (with a tokenizer) new tokens per call."""

    def __init__(self, generate_fn: GenerateFn, tokenizer=None) -> None:
        self.generate_fn, self.tokenizer, self.calls = generate_fn, tokenizer, []

    def __call__(self, prompt: str, **options) -> str:
        started = time.perf_counter()
        text = self.generate_fn(prompt, **options)
        seconds = time.perf_counter() - started
        tokens = len(self.tokenizer(text, add_special_tokens=False)["input_ids"]) if self.tokenizer else None
        self.calls.append({"seconds": seconds, "new_tokens": tokens, "prompt_chars": len(prompt)})
        return text

    def summary(self) -> dict:
        seconds = sum(c["seconds"] for c in self.calls)
        tokens = [c["new_tokens"] for c in self.calls if c["new_tokens"] is not None]
        return {
            "answers": len(self.calls),
            "seconds": round(seconds, 2),
            "seconds_per_answer": round(seconds / len(self.calls), 2) if self.calls else None,
            "mean_prompt_chars": round(sum(c["prompt_chars"] for c in self.calls) / len(self.calls))
            if self.calls
            else None,
            "mean_new_tokens": round(sum(tokens) / len(tokens), 1) if tokens else None,
        }


def build_store(documents: Mapping[str, dict]):
    """(chunks, BM25 retriever): documents chunked by the course's default chunker (cached by content),
    and a BM25 index over the chunks' indexed text."""
    from ragft.retrieval.retrieval_eval import chunk_collection
    from ragft.retrieval.retrieve import BM25Retriever

    chunks = chunk_collection(documents)
    return chunks, BM25Retriever([c.chunk_id for c in chunks], [c.indexed_text for c in chunks])


STORES = ("facts", "facts-mini", STALE_VERSION)


@functools.lru_cache(maxsize=len(STORES))
def load_store(name: str = "facts") -> tuple[dict[str, dict], list, object]:
    """(documents, chunks, BM25 retriever) for a store, built once per process (chunking takes seconds).

    "facts" and "facts-mini" are the evaluation sets' corpora (Django 5.2); "4.2" is the whole 4.2 manual.
    """
    if name not in STORES:
        raise ValueError(f"name must be one of {STORES}, got {name!r}")
    if name == STALE_VERSION:
        from ragft.corpus.data import load_corpus

        sections = load_corpus(STALE_VERSION)
        documents = {s["id"]: {"title": " > ".join(s["trail"]), "text": s["text"]} for s in sections}
    else:
        from ragft.corpus.data import load_evalset

        documents = load_evalset(name, "test").corpus
    chunks, retriever = build_store(documents)
    return documents, chunks, retriever


def _round(values: Mapping[str, float]) -> dict:
    return {key: round(value, 4) if isinstance(value, float) else value for key, value in values.items()}


def run_rag_eval(
    n_questions: int = 32,
    k: int = DEFAULT_K,
    seed: int = 0,
    n_not_in_store: int = 10,
    corpus: str = "full",
    max_new_tokens: int = 32,
    max_chars: int = DEFAULT_MAX_CHARS,
    generate_fn: GenerateFn | None = None,
    show_progress: bool = True,
) -> dict:
    """Notebook 05's experiment: BM25 RAG with SmolLM2 on a seeded, kind-stratified sample of the facts test
    split, scored for retrieval and generation separately and sorted into the failure taxonomy; then the
    not-in-store case: questions about objects new since Django 4.2, asked against a store of the 4.2 manual.
    """
    from ragft.corpus.data import load_evalset
    from ragft.rag.pipeline import answer_batch, model_generate_fn
    from ragft.retrieval.metrics import evaluate, run_from_rankings
    from ragft.retrieval.retrieval_eval import search_documents

    if corpus not in CORPORA:
        raise ValueError(f"corpus must be one of {sorted(CORPORA)}, got {corpus!r}")
    if not 0 <= n_not_in_store <= 100:
        raise ValueError(f"n_not_in_store must be between 0 and 100, got {n_not_in_store}")
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    tokenizer = None
    if generate_fn is None:  # load the generator first: it is the big allocation (see release_models)
        from ragft.runtime.models import load_generator

        tokenizer = load_generator()[1]
        generate_fn = model_generate_fn()
        timings["load_generator_s"] = time.perf_counter() - clock
    timed = _TimedGenerate(generate_fn, tokenizer)

    clock = time.perf_counter()
    evalset = load_evalset(CORPORA[corpus], "test")
    _, chunks, retriever = load_store(CORPORA[corpus])
    chunk_sections = {c.chunk_id: c.section_ids for c in chunks}
    timings["index_s"] = time.perf_counter() - clock

    # Retrieval, scored on its own: sections ranked by their best chunk, every test question.
    clock = time.perf_counter()
    qids = sorted(evalset.qrels)
    depth = max(RETRIEVAL_DEPTH, k)
    rankings = search_documents(retriever, chunks, [evalset.queries[q]["text"] for q in qids], depth)
    run = run_from_rankings(qids, rankings)
    metrics = list(dict.fromkeys(["recall@1", f"recall@{k}", "recall@10", "mrr@10", "ndcg@10"]))
    kinds = {q: evalset.queries[q]["metadata"]["kind"] for q in qids}
    subset = stratified_sample(kinds, n_questions, seed)
    retrieval = {
        "all_test": _round({**evaluate(run, evalset.qrels, metrics), "questions": len(qids)}),
        "sample": _round(
            {**evaluate(run, {q: evalset.qrels[q] for q in subset}, metrics), "questions": len(subset)}
        ),
    }
    timings["retrieval_s"] = time.perf_counter() - clock

    # Generation on the sample: retrieve -> prompt -> generate -> cite, then score each answer.
    clock = time.perf_counter()
    options = {"generate_fn": timed, "max_new_tokens": max_new_tokens, "max_chars": max_chars}
    questions = [evalset.queries[q]["text"] for q in subset]
    results = answer_batch(questions, retriever, chunks, k, show_progress=show_progress, **options)
    records = []
    for qid, result in zip(subset, results, strict=True):
        gold = evalset.queries[qid]["metadata"]["answer"]
        record = score_answer(result, gold, evalset.qrels[qid], chunk_sections)
        ranked = run[qid]
        rank = next((i for i, doc in enumerate(ranked, 1) if doc in evalset.qrels[qid]), None)
        records.append({"qid": qid, "kind": kinds[qid], "gold_rank": rank, **record})
    timings["generation_s"] = time.perf_counter() - clock
    generation_timing = timed.summary()

    # Not in the store: objects and settings whose name is nowhere in the 4.2 manual, asked of a 4.2 store.
    clock = time.perf_counter()
    stale_records: list[dict] = []
    stale_store: dict = {"version": STALE_VERSION, "candidates": 0}
    if n_not_in_store:
        documents, stale_chunks, stale_retriever = load_store(STALE_VERSION)
        everything = "\n".join(f"{d['title']}\n{d['text']}" for d in documents.values())
        candidates = []
        for qid in qids:
            term = subject_term(evalset.queries[qid])
            if term and len(term) >= MIN_TERM_LENGTH and not term_in_texts(term, [everything]):
                candidates.append(qid)
        picked = sorted(random.Random(seed).sample(candidates, min(n_not_in_store, len(candidates))))
        stale_sections = {c.chunk_id: c.section_ids for c in stale_chunks}
        timings["stale_index_s"] = time.perf_counter() - clock
        timed.calls.clear()
        clock = time.perf_counter()
        stale_results = answer_batch(
            [evalset.queries[q]["text"] for q in picked],
            stale_retriever,
            stale_chunks,
            k,
            show_progress=show_progress,
            **options,
        )
        for qid, result in zip(picked, stale_results, strict=True):
            gold = evalset.queries[qid]["metadata"]["answer"]
            record = score_answer(result, gold, evalset.qrels[qid], stale_sections, in_store=False)
            stale_records.append(
                {"qid": qid, "kind": kinds[qid], "term": subject_term(evalset.queries[qid]), **record}
            )
        timings["stale_generation_s"] = time.perf_counter() - clock
        stale_store = {
            "version": STALE_VERSION,
            "sections": len(documents),
            "chunks": len(stale_chunks),
            "candidates": len(candidates),
            "generation": timed.summary(),
        }

    return {
        "config": {
            "collection": CORPORA[corpus],
            "split": "test",
            "retriever": "bm25",
            "k": k,
            "seed": seed,
            "n_questions": len(subset),
            "n_not_in_store": len(stale_records),
            "max_new_tokens": max_new_tokens,
            "max_chars_per_passage": max_chars,
            "decoding": "greedy",
            "documents": len(evalset.corpus),
            "chunks": len(chunks),
        },
        "retrieval": retrieval,
        "generation": _round(generation_metrics(records)),
        "generation_timing": generation_timing,
        "taxonomy": taxonomy_counts(records + stale_records),
        "ignored_answer_in_prompt": sum(
            r["answer_in_prompt"] for r in records if r["class"] == "retrieved_but_ignored"
        ),
        "not_in_store": {**not_in_store_outcomes(stale_records), "store": stale_store},
        "records": records,
        "not_in_store_records": stale_records,
        "timings": {name: round(value, 2) for name, value in timings.items()},
    }


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m ragft.rag.rag_eval [--json]`: run the experiment, print a summary (--json: all)."""
    import argparse
    import json

    parser = argparse.ArgumentParser(prog="python -m ragft.rag.rag_eval", description=run_rag_eval.__doc__)
    parser.add_argument("--n-questions", type=int, default=32)
    parser.add_argument("--k", type=int, default=DEFAULT_K)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-not-in-store", type=int, default=10)
    parser.add_argument("--corpus", choices=sorted(CORPORA), default="full")
    parser.add_argument("--json", action="store_true", help="print the whole result, records included")
    args = parser.parse_args(argv)
    result = run_rag_eval(
        n_questions=args.n_questions,
        k=args.k,
        seed=args.seed,
        n_not_in_store=args.n_not_in_store,
        corpus=args.corpus,
    )
    if not args.json:
        result = {key: value for key, value in result.items() if not key.endswith("records")}
    print(json.dumps(result, indent=2, sort_keys=True, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
