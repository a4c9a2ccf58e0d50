"""Four disjoint pools of facts, so that no adapter is ever judged on a fact it was tuned on.

- tuned (T): facts the knowledge adapters are tuned on (facts evaluation set, dev split);
- unseen (U): facts no adapter may ever train on (test split);
- changed (C): facts whose answer differs between Django 4.2 and 5.2, with both answers;
- reader (R): everything a reader adapter may train on (the rest of dev, and facts mined from both
  manuals that no other pool touches).

Two facts that share an id, a normalized phrasing, a gold section (its version-free key, so 4.2 and 5.2
count as one) or a subject always land in the same pool, or one of them is excluded: pools are built from
the connected components of that relation (`assign_pools`), and `overlaps` checks the result.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from ragft.corpus.evalsets import jsonl_bytes
from ragft.corpus.version_diff import version_key
from ragft.corpus.version_facts import version_facts

POOLS = ("tuned", "unseen", "changed", "reader")
EXCLUDED = "excluded"
POOL_DIR = "pools"
TUNED_FACTS = 40
POOL_SEED = 0
OLD, NEW = "4.2", "5.2"


def pool_relpath(name: str) -> str:
    """Path of a pool file (or of the excluded list) relative to the data folder."""
    if name not in (*POOLS, EXCLUDED):
        raise ValueError(f"name must be one of {[*POOLS, EXCLUDED]}, got {name!r}")
    return f"{POOL_DIR}/{name}.jsonl"


def normalize_question(text: str) -> str:
    """Lowercase, backticks and punctuation at the end dropped, single spaces: how phrasings compare."""
    return re.sub(r"\s+", " ", text.replace("`", "").lower()).strip().rstrip("?.! ")


def fact_keys(record: dict) -> set[tuple[str, str]]:
    """The four disjointness keys of a pool record: its id, every normalized phrasing, every gold
    section (version-free, both versions) and every subject (lowercased, without "()")."""
    keys = {("id", record["id"])}
    keys |= {("question", normalize_question(q)) for q in [record["question"], *record["paraphrases"]]}
    keys |= {("section", version_key(s)) for s in record["gold_42"] + record["gold_52"]}
    keys |= {("subject", s.lower().removesuffix("()")) for s in record["subjects"]}
    return keys


def gold_answer(record: dict) -> tuple[str, list[str]]:
    """(answer, gold section ids) of a pool record in the newest version that states it."""
    if record["gold_52"]:
        return record["answer_52"] or record["answer"], record["gold_52"]
    return record["answer_42"] or record["answer"], record["gold_42"]


def candidates(old: dict[str, dict], new: dict[str, dict]) -> list[dict]:
    """One pool record per fact id found in either version (see `ragft.corpus.version_facts`), sorted by id.

    `answer` is the 5.2 answer (the 4.2 one for facts only 4.2 states); `answer_42`/`answer_52` are None
    where that version's manual does not state the fact; `source_split` is the facts evalset split, or
    "mined" for facts that evaluation set does not ask.
    """
    records = []
    for fid in sorted(old.keys() | new.keys()):
        a, b = old.get(fid), new.get(fid)
        base = b or a
        records.append(
            {
                "id": fid,
                "kind": base["kind"],
                "question": base["question"],
                "paraphrases": base["paraphrases"],
                "answer": base["answer"],
                "answer_42": a["answer"] if a else None,
                "answer_52": b["answer"] if b else None,
                "gold_42": a["gold"] if a else [],
                "gold_52": b["gold"] if b else [],
                "subjects": list(dict.fromkeys((b["subjects"] if b else []) + (a["subjects"] if a else []))),
                "source_split": (b["split"] if b else None) or "mined",
            }
        )
    return records


def is_changed(record: dict) -> bool:
    """Whether both versions state the fact, with different answers."""
    return (
        None not in (record["answer_42"], record["answer_52"]) and record["answer_42"] != record["answer_52"]
    )


def components(records: list[dict]) -> list[list[dict]]:
    """Groups of records connected by any shared key (union-find), each sorted by id, ordered by first id."""
    parent = list(range(len(records)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[tuple[str, str], int] = {}
    for i, record in enumerate(records):
        for key in sorted(fact_keys(record)):
            if key in owner:
                parent[root(i)] = root(owner[key])
            else:
                owner[key] = i
    groups: dict[int, list[dict]] = {}
    for i, record in enumerate(records):
        groups.setdefault(root(i), []).append(record)
    found = [sorted(group, key=lambda r: r["id"]) for group in groups.values()]
    return sorted(found, key=lambda group: group[0]["id"])


def _pick_tuned(groups: list[list[dict]], size: int, seed: int) -> set[str]:
    """Ids of whole groups, stratified by kind (seeded shuffle per kind, interleaved), until `size` facts."""
    by_kind: dict[str, list[list[dict]]] = {}
    for group in groups:
        by_kind.setdefault(group[0]["kind"], []).append(group)
    rng, order = random.Random(seed), []
    for kind in sorted(by_kind):
        rng.shuffle(by_kind[kind])
        order += [(i / len(by_kind[kind]), kind, g) for i, g in enumerate(by_kind[kind])]
    chosen: set[str] = set()
    for _, _, group in sorted(order, key=lambda t: (t[0], t[1])):
        if len(chosen) >= size:
            break
        chosen |= {r["id"] for r in group}
    return chosen


def _exclude(record: dict, reason: str) -> dict:
    return {
        "id": record["id"],
        "kind": record["kind"],
        "source_split": record["source_split"],
        "reason": reason,
    }


def assign_pools(
    records: list[dict], tuned_size: int = TUNED_FACTS, seed: int = POOL_SEED
) -> dict[str, list]:
    """Split candidate records into the four pools plus `excluded` (with a reason each).

    Components of evaluation-set facts and changed facts decide: one with a changed fact goes to changed
    (its other facts are excluded), else one with a test fact goes to unseen (its dev facts excluded), else
    it is dev only and goes to tuned (seeded, stratified by kind, `tuned_size` facts) or reader. Mined
    facts join reader when they share no key with tuned, unseen or changed (else excluded).
    """
    if tuned_size < 1:
        raise ValueError(f"tuned_size must be a positive integer, got {tuned_size!r}")
    judged = [r for r in records if r["source_split"] != "mined" or is_changed(r)]
    pools: dict[str, list] = {name: [] for name in (*POOLS, EXCLUDED)}
    dev_groups = []
    for group in components(judged):
        if any(is_changed(r) for r in group):
            pools["changed"] += [r for r in group if is_changed(r)]
            pools[EXCLUDED] += [
                _exclude(r, "shares a key with a changed fact") for r in group if not is_changed(r)
            ]
        elif any(r["source_split"] == "test" for r in group):
            pools["unseen"] += [r for r in group if r["source_split"] == "test"]
            pools[EXCLUDED] += [
                _exclude(r, "shares a key with an unseen fact") for r in group if r["source_split"] != "test"
            ]
        else:
            dev_groups.append(group)
    tuned = _pick_tuned(dev_groups, tuned_size, seed)
    for group in dev_groups:
        pools["tuned" if group[0]["id"] in tuned else "reader"] += group
    taken = {k for name in ("tuned", "unseen", "changed") for r in pools[name] for k in fact_keys(r)}
    for record in records:
        if record["source_split"] == "mined" and not is_changed(record):
            if fact_keys(record) & taken:
                pools[EXCLUDED].append(_exclude(record, "shares a key with a tuned, unseen or changed fact"))
            else:
                pools["reader"].append(record)
    return {name: sorted(found, key=lambda r: r["id"]) for name, found in pools.items()}


def overlaps(pools: dict[str, list[dict]]) -> list[str]:
    """Every key two different pools share, as readable lines (empty when the pools are disjoint)."""
    owners: dict[tuple[str, str], set[str]] = {}
    for name in POOLS:
        for record in pools.get(name, []):
            for key in fact_keys(record):
                owners.setdefault(key, set()).add(name)
    return [
        f"{kind} {value!r} is in {sorted(names)}"
        for (kind, value), names in sorted(owners.items())
        if len(names) > 1
    ]


def build_pools(old_sections: list[dict], new_sections: list[dict]) -> dict[str, list]:
    """The pools (and the excluded list) from the sections of Django 4.2 and 5.2."""
    if not old_sections or old_sections[0]["version"] != OLD:
        raise ValueError(f"old_sections must be Django {OLD}'s sections")
    if not new_sections or new_sections[0]["version"] != NEW:
        raise ValueError(f"new_sections must be Django {NEW}'s sections")
    pools = assign_pools(candidates(version_facts(old_sections), version_facts(new_sections)))
    for name in POOLS:
        for record in pools[name]:
            record["pool"] = name
    problems = overlaps(pools)
    if problems:
        raise AssertionError(f"pools overlap: {problems[:5]}")
    return pools


def pool_counts(records: Iterable[dict]) -> dict:
    """{"facts": n, "kinds": {kind: n}} for one pool file's records."""
    records = list(records)
    return {"facts": len(records), "kinds": dict(sorted(Counter(r["kind"] for r in records).items()))}


def write_pools(pools: dict[str, list], data_dir: Path) -> dict[str, dict]:
    """Write data_dir/pools/<name>.jsonl for every pool and the excluded list; counts per relative path."""
    (data_dir / POOL_DIR).mkdir(parents=True, exist_ok=True)
    counts = {}
    for name in (*POOLS, EXCLUDED):
        (data_dir / pool_relpath(name)).write_bytes(jsonl_bytes(pools[name]))
        counts[pool_relpath(name)] = pool_counts(pools[name])
    return counts


def load_pool(name: str, data_dir: Path | None = None) -> list[dict]:
    """One committed pool's records (tuned, unseen, changed, reader or excluded), hash-checked first."""
    from ragft.corpus.data import verified_path

    path = verified_path(pool_relpath(name), data_dir)
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def pool_ids(name: str, data_dir: Path | None = None) -> set[str]:
    """The fact ids of one committed pool: what a training set may use (tuned, reader) or must avoid."""
    return {record["id"] for record in load_pool(name, data_dir)}
