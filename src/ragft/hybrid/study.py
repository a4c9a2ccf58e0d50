"""Notebook 07's measurements: the hybrid against each method alone, questions no document answers,
knowledge that changes (4.2 -> 5.2), routing, and a two-hop limit.

The A/B reads the knowledge-vs-behavior record (same questions, same scorer); everything else generates
with the base model and the reader adapter (`python -m ragft experiment hybrid --save` writes
data/experiments/hybrid.json, which the notebook reads). Questions come from the fact pools: the reader
adapter was trained on pool R only, so no question here is a fact it learned.
"""

from __future__ import annotations

import random
import re
import time

from ragft.corpus.fact_pools import gold_answer
from ragft.rag.answers import answer_matches
from ragft.runtime.stats import mcnemar_exact, proportion

AB_ARMS = ("base_rag", "reader_closed_book", "qa_tuned_closed_book", "hybrid")
SEED = 0
ROUTE_SAMPLE = 24  # questions of each type in the routing mix
ROUTES = ("lookup", "closed-book", "hybrid")
# Words that mark a question about Django rather than general knowledge (the router's one rule besides
# identifiers); a question with none of them and no identifier goes to the model alone.
DJANGO_WORDS = frozenset(
    "django setting settings default defaults attribute argument option version python middleware model "
    "models queryset template templates migration migrations field fields view views form forms admin "
    "url urls database cache session sessions signal signals".split()
)
_IDENTIFIER = re.compile(r"[A-Z]{2,}_[A-Z_]+|\b\w+\.\w+|--[\w-]+|[a-z]+[A-Z]\w*|[A-Z][a-z]+[A-Z]\w*")


def ab_table(record: dict, pool: str = "unseen") -> dict:
    """Per arm on one pool of the knowledge-vs-behavior record: accuracy, compliance, citing a passage that
    shows the gold answer, abstention, confabulation (each a proportion with its interval), and cost."""
    rows = [i for i, q in enumerate(record["questions"]) if q["pool"] == pool]
    table = {}
    for arm in AB_ARMS:
        scores = [record["scores"][arm][i] for i in rows]
        table[arm] = {
            measure: proportion([s[key] for s in scores])
            for measure, key in (
                ("accuracy", "correct"),
                ("compliance", "compliant"),
                ("cites_gold", "cites_gold"),
                ("abstained", "abstained"),
                ("confabulation", "confabulated"),
            )
        }
        table[arm]["cost"] = record["costs"][arm]
    return table


def paired_test(record: dict, pool: str = "unseen", arm: str = "hybrid", other: str | None = None) -> dict:
    """arm against other (default: the most accurate other A/B arm) on the same questions: how many each
    gets right alone, and the exact McNemar p-value."""
    rows = [i for i, q in enumerate(record["questions"]) if q["pool"] == pool]
    right = {a: [record["scores"][a][i]["correct"] for i in rows] for a in AB_ARMS}
    if other is None:
        other = max((a for a in AB_ARMS if a != arm), key=lambda a: (sum(right[a]), a))
    pairs = list(zip(right[arm], right[other], strict=True))
    only_arm = sum(a and not b for a, b in pairs)
    only_other = sum(b and not a for a, b in pairs)
    return {
        "arm": arm,
        "other": other,
        "n": len(pairs),
        "both": sum(a and b for a, b in pairs),
        "only_arm": only_arm,
        "only_other": only_other,
        "neither": sum(not a and not b for a, b in pairs),
        "p_value": mcnemar_exact(only_arm, only_other),
    }


def _question(record: dict, phrasing: int = 1) -> dict:
    answer, gold = gold_answer(record)
    return {
        "id": record["id"],
        "kind": record["kind"],
        "question": record["paraphrases"][phrasing],
        "gold": answer,
        "gold_sections": gold,
        "stale": record.get("answer_42"),
    }


def _score(outputs: list[str], questions: list[dict], passages: list[list]) -> list[dict]:
    from ragft.tuning.knowledge_vs_behavior import score_output

    return [score_output(o, q, p) for o, q, p in zip(outputs, questions, passages, strict=True)]


def _summary(scores: list[dict], keys=("correct", "compliant", "abstained", "confabulated", "stale")) -> dict:
    return {key: proportion([s[key] for s in scores]) for key in keys}


def no_answer_questions() -> list[dict]:
    """Unseen facts whose subject the 4.2 manual never names: asked of a 4.2 index, no document answers."""
    from ragft.corpus.fact_pools import load_pool
    from ragft.rag.rag_eval import load_store, term_in_texts

    documents, _, _ = load_store("4.2")
    everything = ["\n".join(f"{d['title']}\n{d['text']}" for d in documents.values())]
    picked = [
        r
        for r in load_pool("unseen")
        if r["subjects"] and not any(term_in_texts(s.removesuffix("()"), everything) for s in r["subjects"])
    ]
    return [_question(r) for r in picked]


def run_arm(model, tokenizer, questions: list[dict], method: str, version: str = "5.2") -> dict:
    """One method on questions against one index: outputs, scores, and CPU seconds per answer."""
    from ragft.hybrid.ask import generate_answers

    started = time.process_time()
    outputs, passages = generate_answers(
        [q["question"] for q in questions], method, version, model=model, tokenizer=tokenizer, progress=True
    )
    seconds = (time.process_time() - started) / len(questions)
    return {
        "outputs": outputs,
        "scores": _score(outputs, questions, passages),
        "cpu_seconds_per_answer": round(seconds, 3),
    }


def reindex_seconds(version: str = "5.2") -> float:
    """CPU seconds to index a manual from scratch (chunk every section, build BM25): RAG's update path."""
    from ragft.corpus.data import load_corpus
    from ragft.retrieval.retrieval_eval import chunk_collection
    from ragft.retrieval.retrieve import BM25Retriever

    documents = {s["id"]: {"title": " > ".join(s["trail"]), "text": s["text"]} for s in load_corpus(version)}
    started = time.process_time()
    chunks = chunk_collection(documents, cache=False)
    BM25Retriever([c.chunk_id for c in chunks], [c.indexed_text for c in chunks])
    return round(time.process_time() - started, 1)


def update_study(model, tokenizer, kvb_record: dict) -> dict:
    """Changed facts (C) asked before (4.2 index) and after (5.2 index) the update, for RAG and the hybrid;
    the QA-tuned model's answers do not depend on the index (read from the knowledge-vs-behavior record).
    Costs: re-indexing (CPU seconds, no labels) against retraining (CPU seconds, labeled records)."""
    from ragft.corpus.fact_pools import load_pool
    from ragft.tuning.experiments import adapter_costs, adapters_dir
    from ragft.tuning.lora import load_training_record

    questions = [_question(r) for r in load_pool("changed")]
    result: dict = {"n": len(questions), "paths": {}}
    for method in ("rag", "hybrid"):
        result["paths"][method] = {}
        for version in ("4.2", "5.2"):
            run = run_arm(model, tokenizer, questions, method, version)
            result["paths"][method][version] = {**_summary(run["scores"]), "outputs": run["outputs"]}
    rows = [i for i, q in enumerate(kvb_record["questions"]) if q["pool"] == "changed"]
    tuned = {
        key: proportion([kvb_record["scores"]["qa_tuned_closed_book"][i][key] for i in rows])
        for key in ("correct", "stale")
    }
    result["paths"]["qa_tuned"] = {"4.2": tuned, "5.2": tuned}
    knowledge = load_training_record(adapters_dir() / "knowledge")
    result["costs"] = {
        "reindex_cpu_seconds": reindex_seconds("5.2"),
        "reindex_labeled_records": 0,
        "retrain_cpu_seconds": adapter_costs("knowledge")["train_cpu_seconds"],
        "retrain_labeled_records": knowledge["dataset"]["pairs"],
    }
    result["questions"] = questions
    return result


def route(query: str) -> str:
    """The cheapest path that can answer: a bare identifier (no question mark, at most three words) is looked
    up with BM25; a question with no identifier and no Django word goes to the model alone; the rest to
    the hybrid."""
    text = query.strip()
    if "?" not in text and len(text.split()) <= 3:
        return "lookup"
    words = set(re.findall(r"[a-z]+", text.lower()))
    if _IDENTIFIER.search(text) or words & DJANGO_WORDS:
        return "hybrid"
    return "closed-book"


def routing_mix(n: int = ROUTE_SAMPLE, seed: int = SEED) -> list[dict]:
    """n identifier lookups (identifiers test split), n general questions and n unseen facts, each with
    what counts as right: the gold section (lookups), the words of a right answer (general), the gold
    answer (facts)."""
    from ragft.corpus.data import load_evalset
    from ragft.corpus.fact_pools import load_pool
    from ragft.tuning.experiments import GENERAL_PROMPTS
    from ragft.tuning.knowledge_vs_behavior import stratified

    rng = random.Random(seed)
    identifiers = load_evalset("identifiers", "test")
    ids = sorted(rng.sample(sorted(identifiers.queries), n))
    mix = [
        {
            "type": "identifier",
            "question": identifiers.queries[i]["text"],
            "gold_sections": sorted(identifiers.qrels[i]),
        }
        for i in ids
    ]
    mix += [{"type": "general", "question": q, "words": w} for q, w in GENERAL_PROMPTS[:n]]
    mix += [{"type": "fact", **_question(r, 0)} for r in stratified(load_pool("unseen"), n, seed)]
    return mix


def _right(item: dict, answer: dict) -> bool:
    """Whether a routed answer counts as right: it does not abstain, and it names the identifier's gold
    section (lookups), holds a right answer's word (general questions) or matches the fact's answer."""
    if answer["abstained"]:
        return False
    if item["type"] == "identifier":
        return bool(set(answer["citations"]) & set(item["gold_sections"]))
    if item["type"] == "general":
        return bool(re.search(rf"\b({item['words']})\b", answer["answer"].lower()))
    return answer_matches(answer["answer"], item["gold"])


def _answers(model, tokenizer, items: list[dict], method: str) -> tuple[list[dict], float]:
    """Interpreted answers for items under a path, and the CPU seconds it took."""
    from ragft.hybrid.ask import generate_answers, interpret, retrieve, sources, store_for

    if not items:
        return [], 0.0
    started = time.process_time()
    texts = [i["question"] for i in items]
    if method == "lookup":
        chunks, retriever = store_for("5.2")
        found = retrieve(texts, chunks, retriever, k=1)
        answers = [
            {"answer": f[0].context if f else "", "citations": sources(f[0]) if f else [], "abstained": not f}
            for f in found
        ]
    else:
        outputs, passages = generate_answers(texts, method, model=model, tokenizer=tokenizer, progress=True)
        answers = [interpret(o, p) for o, p in zip(outputs, passages, strict=True)]
    return answers, time.process_time() - started


def routing_study(model, tokenizer, n: int = ROUTE_SAMPLE, seed: int = SEED) -> dict:
    """The routed system against always-hybrid on a mix of lookups, general and fact questions: where each
    query went, accuracy per type (paired test overall) and CPU seconds per query."""
    from ragft.hybrid.ask import store_for

    store_for("5.2")  # build the index first, so neither side pays for it
    mix = routing_mix(n, seed)
    routes = [route(item["question"]) for item in mix]
    routed: list[dict | None] = [None] * len(mix)
    routed_seconds = 0.0
    for path in ROUTES:
        idx = [i for i, r in enumerate(routes) if r == path]
        answers, seconds = _answers(model, tokenizer, [mix[i] for i in idx], path)
        routed_seconds += seconds
        for i, answer in zip(idx, answers, strict=True):
            routed[i] = answer
    always, always_seconds = _answers(model, tokenizer, mix, "hybrid")
    return {
        **routing_scores(mix, routes, routed, always),
        "cpu_seconds_per_query": {
            "routed": round(routed_seconds / len(mix), 3),
            "always_hybrid": round(always_seconds / len(mix), 3),
        },
        "questions": [{**item, "route": r} for item, r in zip(mix, routes, strict=True)],
        "answers": {"routed": routed, "always_hybrid": always},
    }


def routing_scores(mix: list[dict], routes: list[str], routed: list[dict], always: list[dict]) -> dict:
    """Where each query type went, accuracy per type with intervals for both systems, and the paired
    count of queries only one of them got right (with the exact McNemar p-value)."""
    right_routed = [_right(item, a) for item, a in zip(mix, routed, strict=True)]
    right_always = [_right(item, a) for item, a in zip(mix, always, strict=True)]
    types = [t for t in ("identifier", "general", "fact") if any(item["type"] == t for item in mix)]
    only_routed = sum(a and not b for a, b in zip(right_routed, right_always, strict=True))
    only_always = sum(b and not a for a, b in zip(right_routed, right_always, strict=True))
    return {
        "n": {t: sum(item["type"] == t for item in mix) for t in types},
        "routes": {
            t: {
                r: sum(1 for item, x in zip(mix, routes, strict=True) if item["type"] == t and x == r)
                for r in ROUTES
            }
            for t in types
        },
        "accuracy": {
            name: {
                "all": proportion(flags),
                **{
                    t: proportion([f for f, item in zip(flags, mix, strict=True) if item["type"] == t])
                    for t in types
                },
            }
            for name, flags in (("routed", right_routed), ("always_hybrid", right_always))
        },
        "paired": {
            "only_routed": only_routed,
            "only_always": only_always,
            "p_value": mcnemar_exact(only_routed, only_always),
        },
    }


def two_hop_questions() -> list[dict]:
    """Two-hop questions from the pools: "which Python versions does the release that added X support?",
    for unseen version_added facts whose release has an unseen Python-support fact (no adapter learned
    either hop)."""
    from ragft.corpus.fact_pools import load_pool

    unseen = load_pool("unseen")
    python = {r["id"].rsplit("/", 1)[-1]: r for r in unseen if r["kind"] == "python_support"}
    items = []
    for r in unseen:
        if r["kind"] != "version_added" or r["answer"] not in python or not r["subjects"]:
            continue
        subject = r["subjects"][0]
        items.append(
            {
                "id": r["id"],
                "subject": subject,
                "question": f"Which Python versions does the Django release that added {subject} support?",
                "hop1_question": r["question"],
                "hop1_gold": r["answer"],
                "gold": gold_answer(python[r["answer"]])[0],
            }
        )
    return items


def two_hop_study(model, tokenizer) -> dict:
    """The hybrid asked the two-hop question in one shot, and in two steps (resolve the release, then ask
    its Python versions with a second retrieval); plus step two given the right release (its ceiling)."""
    from ragft.hybrid.ask import answer_questions

    items = two_hop_questions()

    def ask_all(texts: list[str]) -> list[dict]:
        qs = [{"id": i, "question": t} for i, t in enumerate(texts)]
        return answer_questions(qs, "hybrid", model=model, tokenizer=tokenizer, progress=True)

    one_shot = ask_all([i["question"] for i in items])
    hop1 = ask_all([i["hop1_question"] for i in items])
    resolved = [a["answer"] if not a["abstained"] else "" for a in hop1]
    hop2 = ask_all([f"Which Python versions does Django {v or 'this release'} support?" for v in resolved])
    given = ask_all([f"Which Python versions does Django {i['hop1_gold']} support?" for i in items])

    def right(answers: list[dict], key: str = "gold") -> list[bool]:
        return [
            not a["abstained"] and answer_matches(a["answer"], i[key])
            for a, i in zip(answers, items, strict=True)
        ]

    return {
        "n": len(items),
        "one_shot": proportion(right(one_shot)),
        "hop1": proportion(right(hop1, "hop1_gold")),
        "two_step": proportion(right(hop2)),
        "step2_given_release": proportion(right(given)),
        "items": items,
        "answers": {"one_shot": one_shot, "hop1": hop1, "two_step": hop2, "step2_given_release": given},
    }


def run_study(progress: bool = True) -> dict:
    """Everything notebook 07 shows, as one JSON-ready dict."""
    from ragft.runtime.budget import peak_rss_mb
    from ragft.tuning.experiments import load_models
    from ragft.tuning.knowledge_vs_behavior import load_record

    started, cpu_started = time.perf_counter(), time.process_time()
    kvb = load_record()
    model, tokenizer = load_models(("reader",))
    no_answer = no_answer_questions()
    result = {
        "experiment": "hybrid",
        "ab": {"unseen": ab_table(kvb), "paired": paired_test(kvb)},
        "no_answer": {
            "n": len(no_answer),
            "questions": no_answer,
            **{
                method: {
                    **_summary(run["scores"], ("abstained", "confabulated", "compliant")),
                    "outputs": run["outputs"],
                }
                for method in ("rag", "hybrid")
                for run in [run_arm(model, tokenizer, no_answer, method, "4.2")]
            },
        },
        "update": update_study(model, tokenizer, kvb),
        "routing": routing_study(model, tokenizer),
        "two_hop": two_hop_study(model, tokenizer),
    }
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["cpu_seconds"] = round(time.process_time() - cpu_started, 1)
    result["peak_mb"] = round(peak_rss_mb())
    return result


BULKY = ("outputs", "questions", "answers", "items")


def summary(report: dict) -> dict:
    """The report without its per-question lists (outputs, questions, answers): the numbers alone."""
    if isinstance(report, dict):
        return {k: summary(v) for k, v in report.items() if k not in BULKY}
    return report


def record_path():
    """data/experiments/hybrid.json: the committed run notebook 07 shows."""
    from ragft.runtime.records import record_path as path_of

    return path_of("hybrid")


def load_record(path=None) -> dict:
    """The committed record (FileNotFoundError naming the command that makes it)."""
    from ragft.runtime.records import load_record as load

    return load(record_path() if path is None else path, "python -m ragft experiment hybrid --save")


def reader_training_overlap() -> dict[str, int]:
    """How many of the reader adapter's training records show, among their passages, a chunk of a gold
    section of another pool (as a distractor: the target never holds that pool's answer), per pool."""
    from ragft.corpus.fact_pools import load_pool
    from ragft.corpus.version_diff import version_key
    from ragft.tuning.reader_adapter import reader_records

    records = [r for r in reader_records() if r["split"] == "train"]
    counts = {"records": len(records)}
    for pool in ("tuned", "unseen", "changed"):
        gold = {version_key(s) for r in load_pool(pool) for s in r["gold_42"] + r["gold_52"]}
        counts[pool] = sum(
            any(version_key(s) in gold for chunk in r["passages"] for s in chunk.section_ids) for r in records
        )
    return counts


ARM_NAMES = {
    "base_rag": "RAG alone (base model)",
    "reader_closed_book": "reader adapter, no documents",
    "qa_tuned_closed_book": "facts tuned in (QA pairs)",
    "hybrid": "hybrid",
}


def pipeline_figure():
    """The hybrid pipeline as boxes and arrows: which layer supplies what, and how each is updated."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 2.8))
    axis = figure.subplots()
    boxes = [
        ("question", "#ddd"),
        ("retriever:\nBM25 over\nstructure chunks\n(Django 5.2)", "#9cf"),
        ("top 3\npassages,\nnumbered", "#9cf"),
        ("reader adapter:\nLoRA on\nSmolLM2-135M\n(format, cite,\nabstain)", "#fc9"),
        ('{"answer": ...,\n "citations": [n]}', "#ddd"),
    ]
    step = 2.4
    for i, (label, color) in enumerate(boxes):
        axis.text(
            i * step,
            0,
            label,
            ha="center",
            va="center",
            fontsize=9,
            bbox={"boxstyle": "round", "facecolor": color, "edgecolor": "#555"},
        )
        if i:
            axis.annotate(
                "",
                xy=(i * step - 0.85, 0),
                xytext=((i - 1) * step + 0.85, 0),
                arrowprops={"arrowstyle": "->"},
            )
    axis.text(1.5 * step, -0.85, "knowledge: update by re-indexing", ha="center", color="#369", fontsize=9)
    axis.text(3 * step, -0.85, "behavior: update by retraining", ha="center", color="#963", fontsize=9)
    axis.set(
        xlim=(-1, 4 * step + 1.2), ylim=(-1.1, 0.9), title="The hybrid pipeline: which layer supplies what"
    )
    axis.axis("off")
    return figure


def update_figure(update: dict):
    """Right answers on the changed facts before and after the update, per path, with 95% intervals; the
    tuned model has one bar (its answers do not depend on any index)."""
    from matplotlib.figure import Figure

    from ragft.runtime.stats import error_bar

    figure = Figure(figsize=(8, 3.4))
    axis = figure.subplots()
    bars = [
        ("base model + RAG\n4.2 index", update["paths"]["rag"]["4.2"], "#9ab"),
        ("base model + RAG\n5.2 index", update["paths"]["rag"]["5.2"], "#579"),
        ("hybrid\n4.2 index", update["paths"]["hybrid"]["4.2"], "#e9b872"),
        ("hybrid\n5.2 index", update["paths"]["hybrid"]["5.2"], "#c77b1e"),
        ("QA-tuned\n(no index; same\nuntil retrained)", update["paths"]["qa_tuned"]["5.2"], "#999"),
    ]
    for x, (_, result, color) in enumerate(bars):
        right = result["correct"]
        low, high = error_bar(right["k"], right["n"])
        axis.bar(x, right["rate"], color=color, yerr=[[low], [high]], capsize=4)
    axis.set_xticks(range(len(bars)), [b[0] for b in bars], fontsize=8)
    axis.set(
        ylim=(0, 1),
        ylabel="right (the 5.2 answer)",
        xlabel="system and the index it reads",
        title=f"Changed facts (n={update['n']}): right answers before and after the update (95% intervals)",
    )
    figure.tight_layout()
    return figure


def update_paired(update: dict, method: str = "hybrid") -> dict:
    """The same changed facts right after the update but not before, and the reverse, for one retrieval
    path (rescored from the stored outputs), with the exact McNemar p-value."""
    from ragft.tuning.knowledge_vs_behavior import score_output

    right = {
        version: [
            score_output(o, q, [])["correct"]
            for o, q in zip(update["paths"][method][version]["outputs"], update["questions"], strict=True)
        ]
        for version in ("4.2", "5.2")
    }
    pairs = list(zip(right["4.2"], right["5.2"], strict=True))
    only_after = sum(after and not before for before, after in pairs)
    only_before = sum(before and not after for before, after in pairs)
    return {
        "only_after": only_after,
        "only_before": only_before,
        "p_value": mcnemar_exact(only_after, only_before),
    }
