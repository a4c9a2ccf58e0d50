"""What must not go into a reader's tuning data: the facts retrieval supplies.

A variant of the reader adapter continues training from it on a mix of its own RAFT records (pool R) and
closed-book records of the changed facts (pool C) with their Django 4.2 answers, the way a team might
"also teach it the facts": the question with no documents, and the old value as the answer. Then it and
the reader are asked the changed facts (a wording neither trained on) with the updated 5.2 index, and with
no documents; and unseen facts with the index. The reader's figures come from the knowledge-vs-behavior
record (the same prompts); the variant's are generated here.
`python -m ragft experiment memorized --save` writes data/experiments/memorized.json.
"""

from __future__ import annotations

import json
import random
import time

SEED = 0
STEPS = 12  # of 4 records, continuing from the reader: 27 memorized facts and 21 RAFT records (variant)
UNSEEN_ASKED = 32


def memorized_pairs() -> list[tuple[list[dict], str]]:
    """Closed-book training pairs for the changed facts (less the test split's), in their first wording:
    no documents, the 4.2 answer as the reply."""
    from ragft.tuning.knowledge_data import knowledge_facts
    from ragft.tuning.reader_data import reader_prompt

    return [
        (reader_prompt(f["question"], []), json.dumps({"answer": f["trained_answer"], "citations": []}))
        for f in knowledge_facts(("changed",))
    ]


ARMS = ("variant", "control")  # trained here: with memorized facts, and with RAFT records only


def training_mix(arm: str = "variant", seed: int = SEED) -> list[tuple[list[dict], str]]:
    """STEPS * 4 examples. variant: every memorized pair and reader training records (a seeded sample),
    interleaved so each batch holds both kinds; control: the same number of reader training records only
    (the same sample, extended), so the two differ only in the memorized facts."""
    from ragft.tuning.reader_adapter import READER_CONFIG, reader_records
    from ragft.tuning.reader_data import training_pairs

    if arm not in ARMS:
        raise ValueError(f"arm must be one of {list(ARMS)}, got {arm!r}")
    total = STEPS * READER_CONFIG.batch_size
    train = [r for r in reader_records() if r["split"] == "train"]
    raft = training_pairs(random.Random(seed).sample(train, total))
    if arm == "control":
        return raft
    facts = memorized_pairs()
    raft = raft[: total - len(facts)]
    mixed = [pair for pairs in zip(raft, facts, strict=False) for pair in pairs]
    return mixed + raft[len(facts) :] + facts[len(raft) :]


def train_variant(folder=None, progress: bool = True, arm: str = "variant"):
    """Continue the committed reader for STEPS steps on training_mix(arm); (model, tokenizer, record)."""
    from ragft.tuning.experiments import _train, adapters_dir
    from ragft.tuning.reader_adapter import READER_CONFIG

    return _train(
        training_mix(arm),
        READER_CONFIG.with_(max_steps=STEPS, warmup_steps=0),
        folder,
        progress=progress,
        init_from=adapters_dir() / "reader",
    )


def asked_sets(kvb_record: dict) -> dict[str, list[int]]:
    """Indices into the knowledge-vs-behavior record's questions: every changed fact, and a kind-stratified
    sample of UNSEEN_ASKED unseen facts."""
    from ragft.tuning.knowledge_vs_behavior import stratified

    questions = kvb_record["questions"]
    unseen = [q for q in questions if q["pool"] == "unseen"]
    picked = {q["id"] for q in stratified(unseen, UNSEEN_ASKED, SEED)}
    return {
        "changed": [i for i, q in enumerate(questions) if q["pool"] == "changed"],
        "unseen": [i for i, q in enumerate(questions) if q["pool"] == "unseen" and q["id"] in picked],
    }


# condition -> (questions asked, passages shown, the reader's arm in the knowledge-vs-behavior record)
CONDITIONS = {
    "changed_with_index": ("changed", "rag", "hybrid"),
    "changed_no_documents": ("changed", "none", "reader_closed_book"),
    "unseen_with_index": ("unseen", "rag", "hybrid"),
}
MEASURES = ("correct", "stale", "abstained", "confabulated", "compliant")


def run(progress: bool = True) -> dict:
    """Train the variant and the control, ask each every condition, and set their scores beside the
    reader's on the same questions; stale answers compared in pairs (variant vs control, variant vs
    reader)."""
    from ragft.runtime.budget import peak_rss_mb
    from ragft.runtime.stats import mcnemar_exact, proportion
    from ragft.tuning import knowledge_vs_behavior as kvb
    from ragft.tuning.experiments import generate_with

    started, cpu = time.perf_counter(), time.process_time()
    record = kvb.load_record()
    sets = asked_sets(record)
    questions = record["questions"]
    passages = {}
    for name, (pool, family, _) in CONDITIONS.items():
        asked = [questions[i] for i in sets[pool]]
        passages[name] = kvb.passages_for(asked)[0] if family == "rag" else [[] for _ in asked]
    result: dict = {"experiment": "memorized", "steps": STEPS, "conditions": {}, "outputs": {}, "scores": {}}
    result["training"] = {"memorized_facts": len(memorized_pairs())}
    for arm in ARMS:
        model, tokenizer, history = train_variant(progress=progress, arm=arm)
        model.eval()
        result["outputs"][arm], result["scores"][arm] = {}, {}
        for name, (pool, _, reader_arm) in CONDITIONS.items():
            asked = [questions[i] for i in sets[pool]]
            prompts = kvb.prompts_for(reader_arm, asked, passages[name], passages[name])
            outputs = generate_with(
                model,
                tokenizer,
                prompts,
                "default",
                kvb.READER_MAX_NEW_TOKENS,
                kvb.until_json_closes,
                f"{arm}: {name}",
            )
            result["outputs"][arm][name] = outputs
            result["scores"][arm][name] = [
                kvb.score_output(o, q, p) for o, q, p in zip(outputs, asked, passages[name], strict=True)
            ]
        result["training"][arm] = {
            "examples": len(training_mix(arm)),
            "loss": history["loss"],
            "cpu_seconds": round(history.get("train_cpu_seconds", 0.0), 1),
        }
        del model
    for name, (pool, _, reader_arm) in CONDITIONS.items():
        idx = sets[pool]
        scores = {"reader": [record["scores"][reader_arm][i] for i in idx]}
        scores |= {arm: result["scores"][arm][name] for arm in ARMS}
        condition: dict = {"n": len(idx), "ids": [questions[i]["id"] for i in idx]}
        for who, rows in scores.items():
            condition[who] = {m: proportion([s[m] for s in rows]) for m in MEASURES}
        for other in ("control", "reader"):
            pairs = list(zip(scores["variant"], scores[other], strict=True))
            only_variant = sum(v["stale"] and not o["stale"] for v, o in pairs)
            only_other = sum(o["stale"] and not v["stale"] for v, o in pairs)
            condition[f"stale_vs_{other}"] = {
                "only_variant": only_variant,
                "only_other": only_other,
                "p_value": mcnemar_exact(only_variant, only_other),
            }
        result["conditions"][name] = condition
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["cpu_seconds"] = round(time.process_time() - cpu, 1)
    result["peak_mb"] = round(peak_rss_mb())
    return result


def record_path():
    """data/experiments/memorized.json: the committed run notebook 07 shows."""
    from ragft.runtime.records import record_path as path_of

    return path_of("memorized")


def load_record(path=None) -> dict:
    """The committed record (FileNotFoundError naming the command that makes it)."""
    from ragft.runtime.records import load_record as load

    return load(record_path() if path is None else path, "python -m ragft experiment memorized --save")
