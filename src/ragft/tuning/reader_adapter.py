"""The reader adapter: LoRA trained on the RAFT records of the reader pool (ragft.tuning.reader_data).

It is the behavior half of the hybrid: given retrieved documents it answers in strict JSON, cites the
document it used, and abstains when none contains the answer. Training is slower than a notebook's budget
on one CPU thread, so `python -m ragft experiment knowledge-vs-behavior --train` trains it into
data/adapters/reader with its record (training.json); notebooks load it from there.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from pathlib import Path

from ragft.tuning.experiments import BEHAVIOR_CONFIG
from ragft.tuning.reader_data import build_reader_records, parse_reader_output, reader_prompt, training_pairs

SEED = 0
# The behavior adapter's recipe (top 10 of 30 layers, r=8: the format and the copying are decided late in the
# network), 64 steps of 4 so that each training record is seen about once, longer sequences (three passages)
# in micro-batches of one for memory.
READER_CONFIG = BEHAVIOR_CONFIG.with_(max_steps=64, micro_batch_size=1, max_length=800)
READER_MAX_NEW_TOKENS = 48
READER_CARD = """
**What it saw** (the reader, `ragft.tuning.reader_adapter.train_reader_adapter`): {train} RAFT-style
records built from pool R (`data/pools/reader.jsonl`) only: a question, the three passages the course's RAG
store returns for it (structure chunks, BM25; the gold passage inserted at a seeded position when missed),
and the strict JSON answer citing the gold passage; in {abstain_train} of them every passage is a distractor
and the target is `{{"answer": "not in the documents", "citations": []}}`. It learned a behavior (read, copy,
cite, abstain); no fact of pools T, U or C, and no test-split fact, was in its data.
"""


def reader_stores() -> dict:
    """{"5.2": (chunks, retriever), "4.2": (...)}: the course's RAG stores (structure chunks, BM25)."""
    from ragft.rag.rag_eval import load_store

    stores = {}
    for version, name in (("5.2", "facts"), ("4.2", "4.2")):
        _, chunks, retriever = load_store(name)
        stores[version] = (chunks, retriever)
    return stores


def reader_records(seed: int = SEED) -> list[dict]:
    """The reader adapter's records, built from the committed reader pool (deterministic)."""
    from ragft.corpus.fact_pools import load_pool

    return build_reader_records(load_pool("reader"), reader_stores(), seed=seed)


def records_fingerprint(records: list[dict]) -> str:
    """A short digest of what the adapter is trained on (ids, questions, passages, targets)."""
    keys = [(r["id"], r["question"], r["passage_ids"], r["target"], r["split"]) for r in records]
    return hashlib.sha256(json.dumps(keys).encode()).hexdigest()[:16]


def score_reader_outputs(outputs: list[str], records: list[dict]) -> dict:
    """Compliance, correct answers, correct citations and abstentions of reader outputs on records."""
    from ragft.rag.answers import answer_matches

    if len(outputs) != len(records) or not records:
        raise ValueError(f"outputs ({len(outputs)}) and records ({len(records)}) must be equal and non-empty")
    parsed = [parse_reader_output(o, len(r["passages"])) for o, r in zip(outputs, records, strict=True)]
    n = len(records)
    right = 0
    for p, r in zip(parsed, records, strict=True):
        if r["answer"] is None:
            right += p["compliant"] and p["abstained"]
        else:
            right += p["compliant"] and not p["abstained"] and answer_matches(p["answer"], r["answer"])
    cited = sum(
        p["compliant"] and r["citation"] is not None and p["citations"] == [r["citation"]]
        for p, r in zip(parsed, records, strict=True)
    )
    return {
        "n": n,
        "compliance": sum(p["compliant"] for p in parsed) / n,
        "right": right / n,
        "citation_correct": cited / n,
        "abstained": sum(p["abstained"] for p in parsed) / n,
        "failure_reasons": dict(sorted(Counter(p["reason"] for p in parsed if not p["compliant"]).items())),
    }


def train_reader_adapter(folder: Path | None = None, progress: bool = True) -> dict:
    """Train the reader adapter into folder (default data/adapters/reader) with its record; returns it."""
    from ragft.runtime.batchgen import generate_batch
    from ragft.tuning.compliance import can_still_comply
    from ragft.tuning.experiments import _train, adapters_dir

    records = reader_records()
    train = [r for r in records if r["split"] == "train"]
    dev = [r for r in records if r["split"] == "dev"]
    folder = adapters_dir() / "reader" if folder is None else Path(folder)
    cpu_started = time.process_time()
    model, tokenizer, history = _train(
        training_pairs(train), READER_CONFIG, None, dev=training_pairs(dev), eval_every=16, progress=progress
    )
    cpu_seconds = time.process_time() - cpu_started
    model.eval()
    prompts = [reader_prompt(r["question"], r["passages"]) for r in dev]
    outputs = generate_batch(model, tokenizer, prompts, READER_MAX_NEW_TOKENS, 4, can_still_comply)
    history.update(
        {
            "train_cpu_seconds": cpu_seconds,
            "cpu_seconds_per_step": cpu_seconds / max(1, history["steps"]),
            "dataset": {
                "fingerprint": records_fingerprint(records),
                "train": len(train),
                "dev": len(dev),
                "abstain_train": sum(r["answer"] is None for r in train),
                "pool": "reader",
            },
            "dev_scores": score_reader_outputs(outputs, dev),
        }
    )
    from ragft.tuning.lora import save_adapter

    history["adapter_bytes"] = save_adapter(model, folder)["adapter_bytes"]
    (folder / "training.json").write_text(json.dumps(history, indent=1, sort_keys=True) + "\n")
    write_card(folder, history["dataset"])
    return history


def write_card(folder: Path, dataset: dict) -> None:
    """Add what the reader adapter saw to the model card save_adapter wrote."""
    card = folder / "README.md"
    card.write_text(card.read_text() + READER_CARD.format(**dataset))
