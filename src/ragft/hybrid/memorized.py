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
STEPS = 12  # of 4 records, continuing from the reader: half RAFT records, half memorized facts
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


def training_mix(seed: int = SEED) -> list[tuple[list[dict], str]]:
    """STEPS * 4 examples: every memorized pair and as many of the reader's own training records (a seeded
    sample), interleaved so each batch holds both kinds."""
    from ragft.tuning.reader_adapter import READER_CONFIG, reader_records
    from ragft.tuning.reader_data import training_pairs

    facts = memorized_pairs()
    total = STEPS * READER_CONFIG.batch_size
    train = [r for r in reader_records() if r["split"] == "train"]
    raft = training_pairs(random.Random(seed).sample(train, total - len(facts)))
    mixed = [pair for pairs in zip(raft, facts, strict=False) for pair in pairs]
    return mixed + raft[len(facts) :] + facts[len(raft) :]


def train_variant(folder=None, progress: bool = True):
    """Continue the committed reader for STEPS steps on training_mix; (model, tokenizer, training record)."""
    from ragft.tuning.experiments import _train, adapters_dir
    from ragft.tuning.reader_adapter import READER_CONFIG

    return _train(
        training_mix(),
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
    """Train the variant, ask it every condition, and set its scores beside the reader's on the same
    questions (with a paired count of stale answers on the changed facts)."""
    from ragft.runtime.budget import peak_rss_mb
    from ragft.runtime.stats import mcnemar_exact, proportion
    from ragft.tuning import knowledge_vs_behavior as kvb
    from ragft.tuning.experiments import generate_with

    started, cpu = time.perf_counter(), time.process_time()
    record = kvb.load_record()
    model, tokenizer, history = train_variant(progress=progress)
    model.eval()
    sets = asked_sets(record)
    questions = record["questions"]
    result: dict = {"experiment": "memorized", "steps": STEPS, "conditions": {}, "outputs": {}}
    for name, (pool, family, arm) in CONDITIONS.items():
        idx = sets[pool]
        asked = [questions[i] for i in idx]
        retrieved, _ = kvb.passages_for(asked) if family == "rag" else ([[] for _ in asked], None)
        prompts = kvb.prompts_for(arm, asked, retrieved, retrieved)
        outputs = generate_with(
            model, tokenizer, prompts, "default", kvb.READER_MAX_NEW_TOKENS, kvb.until_json_closes, name
        )
        mine = [kvb.score_output(o, q, p) for o, q, p in zip(outputs, asked, retrieved, strict=True)]
        reader = [record["scores"][arm][i] for i in idx]
        result["outputs"][name] = outputs
        result["conditions"][name] = {
            "n": len(idx),
            "ids": [q["id"] for q in asked],
            "reader": {m: proportion([s[m] for s in reader]) for m in MEASURES},
            "variant": {m: proportion([s[m] for s in mine]) for m in MEASURES},
        }
        only_variant = sum(v["stale"] and not r["stale"] for v, r in zip(mine, reader, strict=True))
        only_reader = sum(r["stale"] and not v["stale"] for v, r in zip(mine, reader, strict=True))
        result["conditions"][name]["stale_paired"] = {
            "only_variant": only_variant,
            "only_reader": only_reader,
            "p_value": mcnemar_exact(only_variant, only_reader),
        }
    result["training"] = {
        "examples": len(training_mix()),
        "memorized_facts": len(memorized_pairs()),
        "loss": history["loss"],
        "cpu_seconds": round(history.get("train_cpu_seconds", 0.0), 1),
    }
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["cpu_seconds"] = round(time.process_time() - cpu, 1)
    result["peak_mb"] = round(peak_rss_mb())
    return result


def record_path():
    """data/experiments/memorized.json: the committed run notebook 07 shows."""
    from ragft.runtime.paths import data_dir

    return data_dir() / "experiments" / "memorized.json"


def load_record(path=None) -> dict:
    """The committed record (FileNotFoundError naming the command that makes it)."""
    path = record_path() if path is None else path
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing; make it with `python -m ragft experiment memorized --save`"
        )
    return json.loads(path.read_text())
