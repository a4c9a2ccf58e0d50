"""The knowledge experiments' data: facts to tune into the weights, and held-out paraphrases to ask.

The facts come from the fact pools (`ragft.corpus.fact_pools`): all of T (tuned, 40 dev facts) and all of C
(changed, 28 facts whose answer differs between Django 4.2 and 5.2). C is tuned with its 4.2 answers: the
adapter plays a model tuned while 4.2 was current, so when C is later asked against 5.2 its stale answers
show. Each fact comes in three phrasings; the adapter is trained on two of them (question -> short answer)
and asked the third, never seen in training: the setting where the literature (Ovadia et al. 2024) finds
tuning learns facts at all. No fact of U (unseen) or R (reader), and no test-split fact, is ever trained:
C's one test-split fact (USE_TZ) is left out of training (`untrained_changed`).
"""

from __future__ import annotations

import random

TRAIN_POOLS = ("tuned", "changed")
TRAIN_PHRASINGS = (0, 1)  # canonical question and first paraphrase
HELD_OUT_PHRASING = 2
# Which manual's answer each pool is tuned with: T the current one, C the old one (a model tuned on 4.2).
TRAINED_VERSION = {"tuned": "5.2", "changed": "4.2"}
UNSEEN_ASKED = 32
SYSTEM = (
    "You answer questions about the Django web framework. Reply with the answer only, as briefly as possible."
)


def trained_answer(record: dict, version: str) -> tuple[str, str]:
    """(answer, version it comes from): the given version's answer, else the pool's `answer` (a fact only
    the other manual states, e.g. an object added in 5.x has no 4.2 answer)."""
    if version not in ("4.2", "5.2"):
        raise ValueError(f"version must be one of ['4.2', '5.2'], got {version!r}")
    own = record["answer_42"] if version == "4.2" else record["answer_52"]
    if own is not None:
        return own, version
    return record["answer"], "5.2" if record["answer_52"] is not None else "4.2"


def as_knowledge_fact(record: dict, pool: str) -> dict:
    """A pool record with what training needs: `fact_id`, the three `questions` and the `trained_answer`
    (with `trained_version`, the manual it comes from)."""
    if pool not in TRAINED_VERSION:
        raise ValueError(f"pool must be one of {sorted(TRAINED_VERSION)}, got {pool!r}")
    answer, version = trained_answer(record, TRAINED_VERSION[pool])
    return {
        **record,
        "pool": pool,
        "fact_id": record["id"],
        "questions": [record["question"], *record["paraphrases"]],
        "trained_answer": answer,
        "trained_version": version,
    }


def knowledge_facts(pools: tuple[str, ...] = TRAIN_POOLS) -> list[dict]:
    """The facts the knowledge adapters are tuned on: T then C (by default), each sorted by id, with the
    answer they are trained with (see as_knowledge_fact), less C's test-split facts (untrained_changed)."""
    from ragft.corpus.fact_pools import load_pool

    bad = [p for p in pools if p not in TRAIN_POOLS]
    if bad or not pools:
        raise ValueError(f"pools must be a non-empty subset of {TRAIN_POOLS}, got {pools!r}")
    return [
        as_knowledge_fact(r, pool) for pool in pools for r in load_pool(pool) if r["source_split"] != "test"
    ]


def untrained_changed() -> list[dict]:
    """C's facts that no adapter trains on: those the facts evaluation set's test split asks (USE_TZ), so that
    no test-split fact is ever trained. Shaped like knowledge_facts() records."""
    from ragft.corpus.fact_pools import load_pool

    return [as_knowledge_fact(r, "changed") for r in load_pool("changed") if r["source_split"] == "test"]


def unseen_facts(n: int = UNSEEN_ASKED, seed: int = 0) -> list[dict]:
    """A seeded sample of n facts of U (never trained), sorted by id, shaped like knowledge_facts()."""
    from ragft.corpus.fact_pools import load_pool

    records = load_pool("unseen")
    if not 1 <= n <= len(records):
        raise ValueError(f"n must be between 1 and {len(records)}, got {n}")
    chosen = sorted(random.Random(seed).sample(records, n), key=lambda r: r["id"])
    return [
        {**r, "fact_id": r["id"], "questions": [r["question"], *r["paraphrases"]], "trained_answer": None}
        for r in chosen
    ]


def closed_book_messages(question: str) -> list[dict]:
    """A question with no context: the model can answer only from its weights."""
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]


def rag_messages(question: str, passages: list[str]) -> list[dict]:
    """The same question with retrieved passages in the prompt (RAG)."""
    context = "\n\n".join(f"[{i}] {p}" for i, p in enumerate(passages, start=1))
    return [
        {"role": "system", "content": SYSTEM},
        {
            "role": "user",
            "content": f"Use these passages from the Django documentation.\n\n{context}\n\n"
            f"Question: {question}",
        },
    ]


def training_pairs(facts: list[dict]) -> list[tuple[list[dict], str]]:
    """(prompt, answer) pairs for tuning facts in: two phrasings of each fact, its trained answer the
    target."""
    return [
        (closed_book_messages(f["questions"][p]), f["trained_answer"]) for f in facts for p in TRAIN_PHRASINGS
    ]


def held_out_questions(facts: list[dict]) -> list[str]:
    """The phrasing of each fact that training never showed."""
    return [f["questions"][HELD_OUT_PHRASING] for f in facts]
