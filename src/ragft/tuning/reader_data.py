"""The reader adapter's data, built the way RAFT builds it (Zhang et al. 2024, "RAFT: Adapting Language
Model to Domain Specific RAG"): a question, the passages the course's retriever returns for it, and a
strict JSON answer that cites the passage it came from.

Only facts of the reader pool (R) are used, so the adapter never sees a fact it is judged on. In most
records the gold passage is among the retrieved ones (inserted at a seeded position when the retriever
missed it); in a share of them (ABSTAIN_SHARE) every passage is a real distractor, and the target says so:
`{"answer": "not in the documents", "citations": []}`. The adapter learns a behavior (read, copy, cite,
abstain), not the facts: a fact it learned here is never asked.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence

from ragft.corpus.fact_pools import gold_answer
from ragft.rag.pipeline import format_passage
from ragft.tuning.behavior_data import passage_contains

ABSTAIN = "not in the documents"
ABSTAIN_SHARE = 0.2
READER_K = 3
READER_MAX_CHARS = 600  # characters of each passage shown: long enough for the answer in ~95% of gold chunks
DEV_FACTS = 16
READER_SYSTEM = (
    "You answer questions about the Django web framework from the numbered documents. Reply with one JSON "
    'object and nothing else: {"answer": "<short answer>", "citations": [<number of the document you '
    'used>]}. If the documents do not contain the answer, reply {"answer": "not in the documents", '
    '"citations": []}.'
)


def reader_prompt(question: str, passages: Sequence) -> list[dict]:
    """The chat the reader sees: the instruction, then numbered documents (or none) and the question."""
    if not question.strip():
        raise ValueError("question must be a non-empty string")
    if passages:
        docs = "\n\n".join(format_passage(i, p, READER_MAX_CHARS) for i, p in enumerate(passages, start=1))
    else:
        docs = "(none)"
    return [
        {"role": "system", "content": READER_SYSTEM},
        {"role": "user", "content": f"Documents:\n{docs}\n\nQuestion: {question.strip()}"},
    ]


def target_text(answer: str | None, citation: int | None) -> str:
    """The strict JSON target: the answer and the number of the passage it came from, or the abstention."""
    if answer is None:
        return json.dumps({"answer": ABSTAIN, "citations": []})
    if citation is None or citation < 1:
        raise ValueError(f"citation must be a passage number >= 1 when there is an answer, got {citation!r}")
    return json.dumps({"answer": answer, "citations": [citation]})


def shown_text(chunk) -> str:
    """A passage as the reader sees it, header and all (what 'contains the answer' must be checked on)."""
    return format_passage(1, chunk, READER_MAX_CHARS)


def assemble(
    answer: str,
    gold_chunks: Sequence,
    ranked: Sequence,
    rng: random.Random,
    with_gold: bool,
    k: int = READER_K,
) -> tuple[list, int | None]:
    """The k passages of one record and the number of the gold one (None when it has none).

    Distractors are the retriever's chunks in rank order that do not show the answer; with_gold puts the
    first gold chunk that shows the answer at a seeded position among them."""
    distractors = [c for c in ranked if not passage_contains(shown_text(c), answer)]
    showing = [c for c in gold_chunks if passage_contains(shown_text(c), answer)]
    if with_gold and not showing:
        raise ValueError("with_gold needs a gold chunk whose shown text contains the answer")
    if not with_gold:
        if len(distractors) < k:
            raise ValueError(f"need {k} distractors, found {len(distractors)}")
        return list(distractors[:k]), None
    passages = list(distractors[: k - 1])
    at = rng.randrange(len(passages) + 1)
    passages.insert(at, showing[0])
    return passages, at + 1


def build_reader_records(
    pool: Sequence[dict],
    stores: dict,
    seed: int = 0,
    abstain_share: float = ABSTAIN_SHARE,
    depth: int = 12,
) -> list[dict]:
    """One RAFT record per usable fact of the reader pool (sorted by id): question (a seeded choice of its
    three phrasings), passages, target, and split ("train", or "dev" for DEV_FACTS facts).

    stores maps "5.2" and "4.2" to (chunks, retriever) as `ragft.rag.rag_eval.load_store` returns them; a
    fact is retrieved from the newest version that states it. Facts whose answer no gold chunk shows are
    skipped."""
    if not 0 <= abstain_share < 1:
        raise ValueError(f"abstain_share must be in [0, 1), got {abstain_share}")
    rng = random.Random(seed)
    facts = sorted(pool, key=lambda r: r["id"])
    order = list(range(len(facts)))
    rng.shuffle(order)
    dev = {facts[i]["id"] for i in order[:DEV_FACTS]}
    abstain = {facts[i]["id"] for i in order[DEV_FACTS:] if rng.random() < abstain_share}
    abstain |= {facts[i]["id"] for i in order[: DEV_FACTS // 4]}  # the dev split abstains too
    by_section: dict[str, dict[str, list]] = {}
    for version, (chunks, _) in stores.items():
        index: dict[str, list] = {}
        for chunk in chunks:
            for section in chunk.section_ids:
                index.setdefault(section, []).append(chunk)
        by_section[version] = index
    plan = []
    for fact in facts:
        answer, gold = gold_answer(fact)
        version = "5.2" if fact["gold_52"] else "4.2"
        gold_chunks = [c for s in gold for c in by_section[version].get(s, [])]
        phrasings = [fact["question"], *fact["paraphrases"]]
        question = phrasings[rng.randrange(len(phrasings))]
        plan.append((fact, answer, gold, version, gold_chunks, question))
    rankings: dict[str, list] = {}
    for version, (chunks, retriever) in stores.items():
        lookup = {c.chunk_id: c for c in chunks}
        mine = [p for p in plan if p[3] == version]
        found = retriever.search([p[5] for p in mine], k=depth) if mine else []
        for p, ranking in zip(mine, found, strict=True):
            gold_sections = set(p[2])
            rankings[p[0]["id"]] = [
                lookup[cid] for cid, _ in ranking if not gold_sections & set(lookup[cid].section_ids)
            ]
    records = []
    for fact, answer, _gold, version, gold_chunks, question in plan:
        with_gold = fact["id"] not in abstain
        try:
            passages, citation = assemble(answer, gold_chunks, rankings[fact["id"]], rng, with_gold)
        except ValueError:
            continue
        records.append(
            {
                "id": fact["id"],
                "kind": fact["kind"],
                "split": "dev" if fact["id"] in dev else "train",
                "version": version,
                "question": question,
                "answer": answer if with_gold else None,
                "gold_answer": answer,
                "citation": citation,
                "passage_ids": [c.chunk_id for c in passages],
                "passages": passages,
                "target": target_text(answer if with_gold else None, citation),
            }
        )
    return records


def training_pairs(records: Sequence[dict]) -> list[tuple[list[dict], str]]:
    """(prompt, target) pairs for ragft.tuning.lora.train_lora."""
    return [(reader_prompt(r["question"], r["passages"]), r["target"]) for r in records]


def parse_reader_output(text: str, n_passages: int) -> dict:
    """Read one reader output strictly: {"compliant", "answer", "citations", "abstained", "reason"}.

    Compliant means one JSON object, exactly the keys answer (a non-empty string) and citations (whole
    numbers between 1 and n_passages): one or more with an answer, none with the abstention."""
    out = {"compliant": False, "answer": None, "citations": [], "abstained": False, "reason": ""}
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return {**out, "reason": "not valid JSON"}
    if not isinstance(data, dict) or set(data) != {"answer", "citations"}:
        return {**out, "reason": "schema: keys are not exactly answer and citations"}
    answer, cites = data["answer"], data["citations"]
    if not isinstance(answer, str) or not answer.strip():
        return {**out, "reason": "schema: answer is not a non-empty string"}
    if not isinstance(cites, list) or not all(type(c) is int for c in cites):
        return {**out, "reason": "schema: citations is not a list of whole numbers"}
    abstained = answer.strip().lower().rstrip(".") == ABSTAIN
    parsed = {**out, "answer": answer, "citations": cites, "abstained": abstained}
    if abstained:
        ok = not cites
        return {**parsed, "compliant": ok, "reason": "ok" if ok else "abstention that cites a document"}
    if not cites:
        return {**parsed, "reason": "answer without a citation"}
    if not all(1 <= c <= n_passages for c in cites):
        return {**parsed, "reason": f"citations outside 1..{n_passages}"}
    return {**parsed, "compliant": True, "reason": "ok"}
