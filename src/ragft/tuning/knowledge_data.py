"""The knowledge experiment's data: facts to tune into the weights, and held-out paraphrases to ask.

Each fact question of the evaluation set comes in three phrasings. The knowledge adapter is trained on two
of them (question -> short answer); the third, never seen in training, is what it is asked. That is the
setting where the literature (Ovadia et al. 2024) finds tuning learns facts at all: several paraphrases.
"""

from __future__ import annotations

import random

from ragft.tuning.behavior_data import fact_items

DEFAULT_FACTS = 32
TRAIN_PHRASINGS = (0, 1)  # canonical question and first paraphrase
HELD_OUT_PHRASING = 2
SYSTEM = (
    "You answer questions about the Django web framework. Reply with the answer only, as briefly as possible."
)


def knowledge_facts(n: int = DEFAULT_FACTS, seed: int = 0) -> list[dict]:
    """A seeded sample of n facts from the evaluation set's test split, in a fixed order."""
    facts = [f for f in fact_items() if f["eval_split"] == "test"]
    if not 1 <= n <= len(facts):
        raise ValueError(f"n must be between 1 and {len(facts)}, got {n}")
    return sorted(random.Random(seed).sample(facts, n), key=lambda f: f["fact_id"])


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
    """(prompt, answer) pairs for tuning facts in: two phrasings of each fact, the answer as the target."""
    return [(closed_book_messages(f["questions"][p]), f["answer"]) for f in facts for p in TRAIN_PHRASINGS]


def held_out_questions(facts: list[dict]) -> list[str]:
    """The phrasing of each fact that training never showed."""
    return [f["questions"][HELD_OUT_PHRASING] for f in facts]
