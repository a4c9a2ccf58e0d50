"""Audits of the fact pools (`ragft.corpus.fact_pools`): a constant-answer baseline per pool, and which facts
of today's adapter training data the pools say no adapter may train on.
"""

from __future__ import annotations

from collections import Counter

from ragft.corpus.fact_pools import POOLS, fact_keys
from ragft.rag.answers import answer_matches

CURRENT_TRAINING_SEED = 0  # ragft.tuning.experiments.SEED: the seed the committed adapters were built with


def majority_answers(records: list[dict]) -> dict[str, str]:
    """The most frequent answer per fact kind (ties: the alphabetically first), plus "*" over all kinds."""
    by_kind: dict[str, Counter] = {"*": Counter()}
    for record in records:
        by_kind.setdefault(record["kind"], Counter())[record["answer"]] += 1
        by_kind["*"][record["answer"]] += 1
    return {kind: min(c.items(), key=lambda item: (-item[1], item[0]))[0] for kind, c in by_kind.items() if c}


def constant_baseline(reader: list[dict], pools: dict[str, list[dict]]) -> dict[str, dict]:
    """Accuracy of answering every fact with its kind's majority answer on `reader` ("*" for a kind reader
    lacks), scored with answer_matches against each record's answer; for changed facts also the share that
    matches the stale 4.2 answer. Returns {pool: {"accuracy", "n", "by_kind": {kind: [right, n]}}}."""
    if not reader:
        raise ValueError("reader must hold at least one record to take majority answers from")
    guesses = majority_answers(reader)
    report = {}
    for name, records in pools.items():
        by_kind: dict[str, list[int]] = {}
        stale = 0
        for record in records:
            guess = guesses.get(record["kind"], guesses["*"])
            tally = by_kind.setdefault(record["kind"], [0, 0])
            tally[0] += answer_matches(guess, record["answer"])
            tally[1] += 1
            stale += bool(record.get("answer_42")) and answer_matches(guess, record["answer_42"])
        right = sum(t[0] for t in by_kind.values())
        report[name] = {
            "accuracy": right / len(records) if records else 0.0,
            "n": len(records),
            "by_kind": dict(sorted(by_kind.items())),
            "matches_42": stale,
        }
    return {"guesses": guesses, "pools": report}


def training_overlaps(training: dict[str, list[dict]], pools: dict[str, list[dict]]) -> dict[str, dict]:
    """For each training set (name -> pool-shaped records), how many of its facts a pool claims: by id and
    by any disjointness key (phrasing, gold section, subject). {training: {pool: {"ids", "any_key"}}}."""
    report: dict[str, dict] = {}
    for name, records in training.items():
        report[name] = {}
        for pool in POOLS:
            ids = {r["id"] for r in pools.get(pool, [])}
            keys = {k for r in pools.get(pool, []) for k in fact_keys(r)}
            report[name][pool] = {
                "ids": sum(r["id"] in ids for r in records),
                "any_key": sum(bool(fact_keys(r) & keys) for r in records),
            }
    return report


def current_training_facts(seed: int = CURRENT_TRAINING_SEED) -> dict[str, list[dict]]:
    """The facts today's adapters train on, as pool records: the behavior adapter's "train" split
    (`behavior_data.split_facts`; lab_lora trains on a sample of the same records) and the knowledge
    adapters' facts (`knowledge_data.knowledge_facts`, pool records of T and C; the QA-tuned and the
    document-tuned adapter share them)."""
    from ragft.corpus.fact_pools import load_pool
    from ragft.tuning import behavior_data as bd
    from ragft.tuning import knowledge_data as kd

    records = {r["id"]: r for name in POOLS for r in load_pool(name)}
    assignment = bd.split_facts(bd.fact_items(), seed=seed)
    behavior = [records[f] for f, split in sorted(assignment.items()) if split == "train"]
    return {"behavior_train": behavior, "knowledge_train": kd.knowledge_facts()}


def pool_report() -> dict:
    """Counts per pool and kind, the constant baseline (majority on all of reader, and on reader's facts
    that 5.2 states) and the overlaps of today's adapter training facts with the committed pools."""
    from ragft.corpus.fact_pools import load_pool, pool_counts

    pools = {name: load_pool(name) for name in POOLS}
    reader_52 = [r for r in pools["reader"] if r["answer_52"] is not None]
    return {
        "counts": {name: pool_counts(records) for name, records in pools.items()},
        "constant_baseline": {
            "reader": constant_baseline(pools["reader"], pools),
            "reader_52": constant_baseline(reader_52, pools),
        },
        "training_overlaps": training_overlaps(current_training_facts(), pools),
    }
