"""The course's headline experiment: the same questions under every arm, scored for knowledge and behavior.

Questions come from three fact pools (`ragft.corpus.fact_pools`): tuned (T: the QA- and document-tuned
adapters trained on these facts), unseen (U: no adapter trained on them) and changed (C: facts whose answer
differs between Django 4.2 and 5.2; the tuned adapters learned the 4.2 answer, the index holds 5.2). Every
fact is asked in its second paraphrase, which no adapter was trained on.

Two axes: knowledge (the answer matches the gold answer, `ragft.rag.answers.answer_matches`) and behavior
(the output is one JSON object in the reader's schema with a citation in range, or the schema's
abstention). A confabulation is a well-formed, non-abstaining, wrong answer.
"""

from __future__ import annotations

import time
from collections import defaultdict

from ragft.corpus.fact_pools import gold_answer
from ragft.rag.answers import answer_matches
from ragft.rag.rag_eval import is_abstention
from ragft.runtime.stats import wilson_interval
from ragft.tuning.reader_data import parse_reader_output, reader_prompt, shown_text

ARMS = (
    "constant",
    "base_closed_book",
    "base_rag",
    "base_oracle",
    "qa_tuned_closed_book",
    "doc_tuned_closed_book",
    "reader_closed_book",
    "hybrid",
)
ASKED_POOLS = ("tuned", "unseen", "changed")
ASKED_PHRASING = 1  # paraphrases[1]: the knowledge adapters trained on the question and paraphrases[0]
N_UNSEEN: int | None = None  # None: every unseen fact
SEED = 0
RAG_K = 3
CLOSED_MAX_NEW_TOKENS = 24
READER_MAX_NEW_TOKENS = 48
# arm -> (adapter or None for the base model, prompt family)
ARM_SETUP = {
    "base_closed_book": (None, "closed"),
    "qa_tuned_closed_book": ("knowledge", "closed"),
    "doc_tuned_closed_book": ("documents", "closed"),
    "base_rag": (None, "rag"),
    "base_oracle": (None, "oracle"),
    "reader_closed_book": ("reader", "none"),
    "hybrid": ("reader", "rag"),
}


def stratified(records: list[dict], n: int, seed: int = SEED) -> list[dict]:
    """n records, each kind keeping its share (ragft.rag.rag_eval.stratified_sample), sorted by id."""
    from ragft.rag.rag_eval import stratified_sample

    picked = set(stratified_sample({r["id"]: r["kind"] for r in records}, n, seed))
    return sorted((r for r in records if r["id"] in picked), key=lambda r: r["id"])


def question_set(n_unseen: int | None = N_UNSEEN, seed: int = SEED) -> list[dict]:
    """The asked questions: all of T and C, and all of U (or a kind-stratified sample of n_unseen); each with
    its gold answer (the 5.2 one) and, for C, the stale 4.2 one."""
    from ragft.corpus.fact_pools import load_pool

    questions = []
    for pool in ASKED_POOLS:
        records = load_pool(pool)
        if pool == "unseen" and n_unseen is not None:
            records = stratified(records, n_unseen, seed)
        for r in records:
            answer, gold = gold_answer(r)
            questions.append(
                {
                    "pool": pool,
                    "id": r["id"],
                    "kind": r["kind"],
                    "question": r["paraphrases"][ASKED_PHRASING],
                    "gold": answer,
                    "gold_sections": gold,
                    "stale": r["answer_42"] if pool == "changed" else None,
                }
            )
    return questions


def constant_answers(questions: list[dict]) -> list[str]:
    """The trivial baseline: each kind's most frequent answer among the reader pool's facts that the 5.2
    manual states (a fact kind the pool lacks gets the most frequent answer overall)."""
    from ragft.corpus.fact_pools import load_pool
    from ragft.tuning.pool_audit import majority_answers

    current = [{**r, "answer": gold_answer(r)[0]} for r in load_pool("reader") if r["gold_52"]]
    guesses = majority_answers(current)
    return [guesses.get(q["kind"], guesses["*"]) for q in questions]


def passages_for(questions: list[dict], k: int = RAG_K) -> tuple[list[list], list[list]]:
    """(retrieved, oracle) passages per question: the course's RAG store (Django 5.2, structure chunks,
    BM25) top k, and the first gold chunk that shows the gold answer (empty when none does)."""
    from ragft.rag.rag_eval import load_store
    from ragft.tuning.behavior_data import passage_contains

    _, chunks, retriever = load_store("facts")
    lookup = {c.chunk_id: c for c in chunks}
    by_section: dict[str, list] = defaultdict(list)
    for c in chunks:
        for s in c.section_ids:
            by_section[s].append(c)
    rankings = retriever.search([q["question"] for q in questions], k=k)
    retrieved = [[lookup[cid] for cid, _ in ranking] for ranking in rankings]
    oracle = []
    for q in questions:
        showing = [
            c
            for s in q["gold_sections"]
            for c in by_section.get(s, [])
            if passage_contains(shown_text(c), q["gold"])
        ]
        oracle.append(showing[:1])
    return retrieved, oracle


def prompts_for(arm: str, questions: list[dict], retrieved: list[list], oracle: list[list]) -> list[list]:
    """The chat each question gets under an arm (closed-book arms: the knowledge adapters' answer-only
    prompt; document arms: the reader's prompt with the arm's passages, none for reader_closed_book)."""
    from ragft.tuning.knowledge_data import closed_book_messages

    family = ARM_SETUP[arm][1]
    if family == "closed":
        return [closed_book_messages(q["question"]) for q in questions]
    passages = {"rag": retrieved, "oracle": oracle, "none": [[] for _ in questions]}[family]
    return [reader_prompt(q["question"], p) for q, p in zip(questions, passages, strict=True)]


def score_output(output: str, question: dict, passages: list) -> dict:
    """One output on both axes: correct, compliant, abstained, confabulated (and stale, for C); for the
    document arms also whether it cites a passage that shows the gold answer.

    Confabulated: it states an answer (prose, or a JSON reply in the schema), does not abstain, and is wrong.
    A broken JSON reply states nothing; it is a format failure, counted by `compliant`."""
    from ragft.tuning.behavior_data import passage_contains

    parsed = parse_reader_output(output, len(passages))
    if parsed["answer"] is not None:
        answer, abstained = parsed["answer"], parsed["abstained"]
    else:
        answer, abstained = output.strip(), is_abstention(output) or not output.strip()
    correct = not abstained and answer_matches(answer, question["gold"])
    well_formed = parsed["compliant"] if output.lstrip().startswith("{") else bool(answer)
    cites_gold = bool(parsed["compliant"] and parsed["citations"]) and all(
        passage_contains(shown_text(passages[c - 1]), question["gold"]) for c in parsed["citations"]
    )
    stale = (
        question["stale"] is not None
        and not abstained
        and answer_matches(answer, question["stale"])
        and not answer_matches(answer, question["gold"])
    )
    return {
        "correct": correct,
        "compliant": parsed["compliant"],
        "abstained": abstained,
        "confabulated": well_formed and not abstained and not correct,
        "cites_gold": cites_gold,
        "stale": stale,
    }


def until_json_closes(text: str) -> bool:
    """Keep generating unless the output is a JSON object that has closed (then nothing after it counts).

    The same stop for every document arm: a reply in prose runs to its token limit, so the base model's
    answers are scored whole on the knowledge axis even though they miss the format."""
    from ragft.tuning.compliance import can_still_comply

    return not text.lstrip().startswith("{") or can_still_comply(text)


def score_all(questions: list[dict], outputs: dict[str, list[str]], retrieved: list, oracle: list) -> dict:
    """Every arm's outputs scored (score_output), each against the passages that arm was shown."""
    none = [[] for _ in questions]
    shown = {"closed": none, "rag": retrieved, "oracle": oracle, "none": none}
    return {
        arm: [
            score_output(o, q, p)
            for o, q, p in zip(
                outputs[arm], questions, shown[ARM_SETUP.get(arm, (None, "closed"))[1]], strict=True
            )
        ]
        for arm in ARMS
    }


def _rate(flags: list[bool]) -> dict:
    n, k = len(flags), sum(flags)
    low, high = wilson_interval(k, n)
    return {"rate": round(k / n, 4), "k": k, "n": n, "low": round(low, 4), "high": round(high, 4)}


def summarize(questions: list[dict], scores: dict[str, list[dict]]) -> dict:
    """Rates per pool and arm with 95% Wilson intervals: accuracy, confabulation, stale (C), and per arm
    compliance (over every question) and citation of a gold passage."""
    report: dict = {"accuracy": {}, "confabulation": {}, "stale": {}, "intervals": {}}
    for pool in ASKED_POOLS:
        idx = [i for i, q in enumerate(questions) if q["pool"] == pool]
        for measure in ("accuracy", "confabulation"):
            report[measure][pool] = {}
            report["intervals"].setdefault(measure, {})[pool] = {}
        for arm, rows in scores.items():
            for measure, key in (("accuracy", "correct"), ("confabulation", "confabulated")):
                rate = _rate([rows[i][key] for i in idx])
                report[measure][pool][arm] = rate["rate"]
                report["intervals"][measure][pool][arm] = [rate["low"], rate["high"]]
        if pool == "changed":
            report["stale"] = {
                arm: _rate([rows[i]["stale"] for i in idx])["rate"] for arm, rows in scores.items()
            }
    report["compliance"], report["cites_gold"] = {}, {}
    report["intervals"]["compliance"] = {}
    for arm, rows in scores.items():
        if arm == "constant":
            report["compliance"][arm] = None
            continue
        rate = _rate([r["compliant"] for r in rows])
        report["compliance"][arm] = rate["rate"]
        report["intervals"]["compliance"][arm] = [rate["low"], rate["high"]]
        report["cites_gold"][arm] = _rate([r["cites_gold"] for r in rows])["rate"]
    return report


def run_experiment(
    n_unseen: int = N_UNSEEN, seed: int = SEED, train: bool = False, progress: bool = True
) -> dict:
    """Every arm on the same questions; returns the JSON-ready report (rates, intervals, costs, outputs)."""
    from ragft.runtime.budget import peak_rss_mb
    from ragft.tuning.experiments import adapter_costs, generate_with, load_models

    started, cpu_started = time.perf_counter(), time.process_time()
    if train:
        from ragft.tuning.experiments import train_documents_adapter, train_knowledge_adapter
        from ragft.tuning.reader_adapter import train_reader_adapter

        train_knowledge_adapter(progress=progress)
        train_documents_adapter(progress=progress)
        train_reader_adapter(progress=progress)
    questions = question_set(n_unseen, seed)
    retrieved, oracle = passages_for(questions)
    model, tokenizer = load_models(("knowledge", "documents", "reader"))
    outputs = {"constant": constant_answers(questions)}
    costs: dict[str, dict] = {}
    for arm, (adapter, family) in ARM_SETUP.items():
        prompts = prompts_for(arm, questions, retrieved, oracle)
        structured = family != "closed"
        cpu = time.process_time()
        outputs[arm] = generate_with(
            model,
            tokenizer,
            prompts,
            adapter,
            READER_MAX_NEW_TOKENS if structured else CLOSED_MAX_NEW_TOKENS,
            until_json_closes if structured else None,
            arm,
        )
        seconds = time.process_time() - cpu
        texts = [
            tokenizer.apply_chat_template(list(p), add_generation_prompt=True, tokenize=False)
            for p in prompts
        ]
        tokens = [len(ids) for ids in tokenizer(texts)["input_ids"]]
        costs[arm] = {
            "cpu_seconds_per_answer": round(seconds / len(questions), 3),
            "prompt_tokens_mean": round(sum(tokens) / len(tokens)),
        }
    scores = score_all(questions, outputs, retrieved, oracle)
    pools = [q["pool"] for q in questions]
    return {
        "experiment": "knowledge-vs-behavior",
        "config": {"n_unseen": n_unseen, "seed": seed, "k": RAG_K, "retriever": "bm25 over structure chunks"},
        "n": {pool: pools.count(pool) for pool in ASKED_POOLS},
        **summarize(questions, scores),
        "retrieval_hit": {
            pool: _rate(
                [
                    any(set(c.section_ids) & set(q["gold_sections"]) for c in r)
                    for q, r in zip(questions, retrieved, strict=True)
                    if q["pool"] == pool
                ]
            )["rate"]
            for pool in ASKED_POOLS
        },
        "costs": costs,
        "adapters": {name: adapter_costs(name) for name in ("knowledge", "documents", "reader")},
        "questions": questions,
        "outputs": outputs,
        "scores": scores,
        "seconds": round(time.perf_counter() - started, 1),
        "cpu_seconds": round(time.process_time() - cpu_started, 1),
        "peak_mb": round(peak_rss_mb()),
    }


def record_path():
    """data/experiments/knowledge_vs_behavior.json: the committed run that notebooks 01 and 06 show."""
    from ragft.runtime.records import record_path as path_of

    return path_of("knowledge_vs_behavior")


def save_record(report: dict, path=None) -> None:
    """Write the report as the committed record (sorted keys, so two equal runs give equal bytes)."""
    from ragft.runtime.records import save_record as save

    save(report, record_path() if path is None else path)


def load_record(path=None) -> dict:
    """The committed record (FileNotFoundError naming the command that makes it)."""
    from ragft.runtime.records import load_record as load

    command = "python -m ragft experiment knowledge-vs-behavior --save"
    return load(record_path() if path is None else path, command)


def deterministic_part(report: dict) -> dict:
    """The report without its timings and memory (what two runs on any machine must agree on)."""
    varying = {"seconds", "cpu_seconds", "peak_mb", "costs", "adapters"}
    return {key: value for key, value in report.items() if key not in varying}


DEMO_WANTED = {
    "base_closed_book": {"correct": False},
    "base_rag": {"correct": True, "compliant": False},
    "reader_closed_book": {"compliant": True, "abstained": True},
    "hybrid": {"correct": True, "compliant": True, "cites_gold": True},
}


def demo_index(record: dict, pool: str = "unseen") -> int:
    """The first question of a pool (in record order) on which the four arms of the opening example behave as
    DEMO_WANTED says: base closed-book wrong, base RAG right but off-format, reader alone abstains in format,
    hybrid right, in format, citing the gold passage. ValueError when no question qualifies."""
    for i, question in enumerate(record["questions"]):
        if question["pool"] != pool:
            continue
        scores = record["scores"]
        if all(
            scores[arm][i][key] == value for arm, want in DEMO_WANTED.items() for key, value in want.items()
        ):
            return i
    raise ValueError(f"no question of pool {pool!r} shows all four behaviors of DEMO_WANTED")
