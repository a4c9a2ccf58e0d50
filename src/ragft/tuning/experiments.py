"""The fine-tuning track's two experiments, as functions that return plain dicts (the CLI prints them).

- behavior: does LoRA teach a format the base model fails? Compliance with a strict JSON schema on the
  held-out test split for the base model with a careful prompt, with few-shot examples, and tuned.
- knowledge: does LoRA teach facts? Held-out paraphrases of pool T's facts answered closed-book by the base
  model and by a model tuned on those facts, against RAG (BM25 top-3) with the base model.
Both also measure forgetting on general prompts. Two knowledge adapters share the facts (T, and C with its
Django 4.2 answers): "knowledge", tuned on question -> answer pairs, and "documents", tuned on the facts'
manual sections (continued pretraining); closed_book_scores asks both, and the base model, T, U and C.
Training is slower than a notebook's budget on one CPU thread, so the adapters are trained by
`python -m ragft experiment lora-behavior|lora-knowledge --train` into data/adapters/ (with their training
record) and loaded from there; everything else runs live.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from ragft.rag.answers import answer_matches
from ragft.runtime.batchgen import generate_batch
from ragft.runtime.budget import peak_rss_mb
from ragft.tuning import behavior_data as bd
from ragft.tuning import compliance as cp
from ragft.tuning import knowledge_data as kd
from ragft.tuning.lora import LoraTrainConfig, adapter_size_bytes, load_training_record

SEED = 0
# Behavior: LoRA r=8 on the attention projections of the top 10 of 30 layers (the format is decided late
# in the network, and gradients then stop at layer 20: half the time and memory of all layers).
BEHAVIOR_CONFIG = LoraTrainConfig(
    rank=8,
    alpha=16,
    layers=tuple(range(20, 30)),
    learning_rate=2e-3,
    max_steps=40,
    batch_size=4,
    micro_batch_size=4,
    gradient_checkpointing=True,
    seed=SEED,
)
# Knowledge: every layer and several passes over each fact: the most favorable setting we can afford
# (6 epochs over 134 question-answer pairs: ~100 steps, ~8 CPU-minutes on one thread).
KNOWLEDGE_CONFIG = LoraTrainConfig(
    rank=8,
    alpha=16,
    layers=None,
    learning_rate=2e-3,
    epochs=6,
    batch_size=8,
    micro_batch_size=4,
    gradient_checkpointing=True,
    seed=SEED,
)
# Documents: the same LoRA, trained as continued pretraining (loss on every token of the gold sections, no
# prompt). Pieces are up to 256 tokens, ~4x the tokens of a question-answer pair: 3 epochs over ~110 pieces
# (~40 steps, ~11 CPU-minutes), one piece per micro-batch (four took ~2.6 GB at the peak, one ~1.4 GB).
DOCUMENTS_CONFIG = KNOWLEDGE_CONFIG.with_(epochs=3, micro_batch_size=1, mask_prompt=False)
KNOWLEDGE_ADAPTERS = ("knowledge", "documents")
FAILURE_STEPS = 20
FEW_SHOTS = 2
BEHAVIOR_MAX_NEW_TOKENS = 40
KNOWLEDGE_MAX_NEW_TOKENS = 24
RAG_K = 3
RAG_PASSAGE_CHARS = 240
GEN_BATCH = 16  # at most this many prompts per generate() call: fewer decoding passes over the weights
# and at most about this many prompt tokens. Measured on the behavior test split: 2,400 raised the peak by
# ~430 MB (KV cache, attention and the heap fragments a growing cache leaves), 1,200 by ~150 MB, for ~5% more
# CPU time and identical outputs.
BATCH_TOKENS = 1200
# General prompts (24, so that forgetting is a rate with an interval, not an anecdote), each with the words
# a right answer contains.
GENERAL_PROMPTS = (
    ("What is the capital of France?", "paris"),
    ("What color is the sky on a clear day?", "blue"),
    ("Which planet is the largest in our solar system?", "jupiter"),
    ("How many days are there in a week?", "seven|7"),
    ("What is the chemical symbol for gold?", "au"),
    ("What is the capital of Italy?", "rome"),
    ("What is the largest ocean on Earth?", "pacific"),
    ("How many legs does a spider have?", "eight|8"),
    ("What gas do plants take in from the air to make food?", "carbon dioxide|co2"),
    ("At how many degrees Celsius does water freeze?", "zero|0"),
    ("Who wrote Romeo and Juliet?", "shakespeare"),
    ("What is the capital of Japan?", "tokyo"),
    ("How many continents are there on Earth?", "seven|7"),
    ("At how many degrees Celsius does water boil at sea level?", "100|hundred"),
    ("Which animal is called the king of the jungle?", "lion|lions"),
    ("What is the capital of Spain?", "madrid"),
    ("How many hours are there in a day?", "24|twenty-four"),
    ("What star is closest to Earth?", "sun"),
    ("What language is mainly spoken in Brazil?", "portuguese"),
    ("What is the capital of Germany?", "berlin"),
    ("How many months are there in a year?", "12|twelve"),
    ("What do bees make from nectar?", "honey"),
    ("What is the chemical formula of water?", "h2o"),
    ("Which planet is known as the red planet?", "mars"),
)


def adapters_dir() -> Path:
    """data/adapters: the committed adapters and their training records."""
    from ragft.runtime.paths import data_dir

    return data_dir() / "adapters"


def behavior_records() -> dict[str, list[dict]]:
    """The behavior dataset by split (built from the committed evaluation set; deterministic)."""
    return bd.by_split(bd.build_records(seed=SEED))


def few_shot_examples(train: list[dict], n: int = FEW_SHOTS) -> list[dict]:
    """Worked examples for the few-shot prompt: the first n two-passage training records (short prompts)."""
    return [r for r in train if len(r["passages"]) == 2][:n]


def _pairs(records: list[dict]) -> list[tuple[list[dict], str]]:
    return [(bd.messages(r), bd.target_text(r)) for r in records]


def _train(
    examples,
    config,
    folder: Path | None,
    dev=(),
    eval_every=0,
    on_step=None,
    progress=True,
    extra=None,
    init_from: Path | None = None,
):
    """Load the base, add LoRA, train; save adapter and record into folder if given.

    on_step(model, tokenizer, history) runs after each step; `extra` (a dict, which on_step may fill) is
    added to the saved record. init_from: a saved adapter (same rank and layers) to continue training from.
    """
    from ragft.tuning.lora import (
        load_base_for_training,
        make_lora_model,
        save_adapter,
        train_lora,
        trainable_parameters,
    )

    model, tokenizer = load_base_for_training()
    model = make_lora_model(model, config)
    if init_from is not None:
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        set_peft_model_state_dict(model, load_file(str(Path(init_from) / "adapter_model.safetensors")))
    history = train_lora(
        model,
        tokenizer,
        examples,
        config,
        dev_examples=dev,
        eval_every=eval_every,
        on_step=None if on_step is None else lambda h: on_step(model, tokenizer, h),
        progress=progress,
    )
    history["trainable"] = trainable_parameters(model)
    history.update(extra or {})
    if folder is not None:
        history["adapter_bytes"] = save_adapter(model, folder)["adapter_bytes"]
        (folder / "training.json").write_text(json.dumps(history, indent=1, sort_keys=True) + "\n")
    return model, tokenizer, history


def dev_compliance(model, tokenizer, dev: list[dict], progress: bool = False) -> float:
    """Compliance of the model (as it is) on the dev records: the checkpoint measure of the failure runs.
    Batches are sized by prompt length (batch_size_for): during training the optimizer's state is in memory
    too, and 16 prompts at once took the run ~300 MB over its budget."""
    prompts = [bd.messages(r) for r in dev]
    outputs = generate_batch(
        model,
        tokenizer,
        prompts,
        BEHAVIOR_MAX_NEW_TOKENS,
        batch_size_for(tokenizer, prompts),
        keep_going=cp.can_still_comply,
        progress=progress,
        desc="dev compliance",
    )
    return cp.score_outputs(outputs, dev)["compliance"]


def train_behavior_adapter(folder: Path | None = None, progress: bool = True) -> dict:
    """Train the behavior adapter into folder (default data/adapters/behavior), with its record in
    training.json there; returns that record."""
    records = bd.build_records(seed=SEED)
    split = bd.by_split(records)
    folder = adapters_dir() / "behavior" if folder is None else Path(folder)
    marks: dict = {}

    def at_step(model, tokenizer, history: dict) -> None:  # dev compliance after FAILURE_STEPS steps:
        if len(history["loss"]) == FAILURE_STEPS:  # the baseline the failure runs are compared with
            model.eval()
            marks[str(FAILURE_STEPS)] = dev_compliance(model, tokenizer, split["dev"])
            model.train()

    dataset = {"fingerprint": bd.dataset_fingerprint(records), **bd.validate(records)["counts"]}
    _, _, history = _train(
        _pairs(split["train"]),
        BEHAVIOR_CONFIG,
        folder,
        dev=_pairs(split["dev"]),
        eval_every=10,
        on_step=at_step,
        progress=progress,
        extra={"dev_compliance_at": marks, "dataset": dataset},
    )
    return history


FAILURE_MODES = {
    "too_few_examples": "24 training examples, repeated (about 3 passes), instead of all of them",
    "learning_rate_too_high": "learning rate 3e-2 instead of 2e-3",
    "labels_not_masked": "loss on the prompt's tokens too (labels not masked)",
}


def failure_mode_run(name: str, progress: bool = True) -> dict:
    """One failure mode: the behavior setup with one thing wrong, trained FAILURE_STEPS steps in the same
    seeded order; returns its training loss, dev loss (every 5 steps) and final dev compliance."""
    if name not in FAILURE_MODES:
        raise ValueError(f"name must be one of {sorted(FAILURE_MODES)}, got {name!r}")
    split = behavior_records()
    train, dev = _pairs(split["train"]), _pairs(split["dev"])
    base = BEHAVIOR_CONFIG.with_(max_steps=FAILURE_STEPS)
    examples, config = {
        "too_few_examples": (train[:24], base),
        "learning_rate_too_high": (train, base.with_(learning_rate=3e-2)),
        "labels_not_masked": (train, base.with_(mask_prompt=False)),
    }[name]
    model, tokenizer, history = _train(examples, config, None, dev=dev, eval_every=5, progress=progress)
    return {
        "what": FAILURE_MODES[name],
        "loss": history["loss"],
        "dev_loss": history["dev_loss"],
        "dev_compliance": dev_compliance(model, tokenizer, split["dev"]),
        "config": config.as_dict(),
        "examples": len(examples),
    }


def run_failure_modes(path: Path | None = None, progress: bool = True) -> dict:
    """Every failure mode (failure_mode_run), saved to path (default data/adapters/failure_modes.json)."""
    results = {name: failure_mode_run(name, progress) for name in FAILURE_MODES}
    path = adapters_dir() / "failure_modes.json" if path is None else Path(path)
    path.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    return results


def _knowledge_dataset(facts: list[dict]) -> dict:
    """What a knowledge adapter saw, for its training record: fact ids per pool and the answers' versions."""
    return {
        "facts": {pool: [f["fact_id"] for f in facts if f["pool"] == pool] for pool in kd.TRAIN_POOLS},
        "trained_versions": {v: sum(f["trained_version"] == v for f in facts) for v in ("4.2", "5.2")},
    }


KNOWLEDGE_CARDS = {
    "knowledge": """
**What it saw** (QA-tuned, `ragft.tuning.experiments.train_knowledge_adapter`): {pairs} question -> short
answer pairs under the closed-book "answer only" system prompt, two phrasings (the canonical question and the
first paraphrase; the second is held out for asking) of {tuned} facts of pool T (`data/pools/tuned.jsonl`,
answered as Django 5.2 states them) and {changed} facts of pool C (`data/pools/changed.jsonl`) answered as
Django **4.2** states them: the adapter plays a model tuned while 4.2 was current, so its answers to C are
stale against 5.2. C's one fact that the facts evaluation set's test split asks (`USE_TZ`) is left out. No
fact of pools U (unseen) or R (reader), and no test-split fact, was trained.
""",
    "documents": """
**What it saw** (document-tuned, `ragft.tuning.experiments.train_documents_adapter`): continued
pretraining, the language-model loss on every token (no prompt, no chat template) of {pieces} pieces of at
most {piece_tokens} tokens ({tokens} tokens in all) cut from the {sections} gold sections of the same facts
as the QA-tuned `knowledge` adapter: {tuned} facts of pool T (their Django 5.2 sections, or 4.2 where only 4.2
states the fact) and {changed} facts of pool C (their Django **4.2** sections, the old text). No question, no
answer, and no section of a fact of pools U or R.
""",
}


def _write_card(folder: Path, name: str, dataset: dict) -> None:
    """Add what the knowledge adapter `name` saw to the model card save_adapter wrote."""
    counts = {"tuned": len(dataset["facts"]["tuned"]), "changed": len(dataset["facts"]["changed"])}
    numbers = {k: v for k, v in dataset.items() if k in ("pairs", "pieces", "piece_tokens", "tokens")}
    if "sections" in dataset:
        numbers["sections"] = len(dataset["sections"])
    card = folder / "README.md"
    card.write_text(card.read_text() + KNOWLEDGE_CARDS[name].format(**counts, **numbers))


def train_knowledge_adapter(folder: Path | None = None, progress: bool = True) -> dict:
    """Train the QA-tuned knowledge adapter (two phrasings of each fact of T and C, C with its 4.2 answers)
    into folder (default data/adapters/knowledge)."""
    facts = kd.knowledge_facts()
    folder = adapters_dir() / "knowledge" if folder is None else Path(folder)
    pairs = kd.training_pairs(facts)
    extra = {"dataset": {**_knowledge_dataset(facts), "pairs": len(pairs)}}
    _, _, history = _train(pairs, KNOWLEDGE_CONFIG, folder, progress=progress, extra=extra)
    _write_card(folder, "knowledge", history["dataset"])
    return history


def train_documents_adapter(folder: Path | None = None, progress: bool = True) -> dict:
    """Train the document-tuned adapter (language-model loss over the gold sections of the same facts, cut
    into pieces) into folder (default data/adapters/documents)."""
    from transformers import AutoTokenizer

    from ragft.runtime.models import _ensure_converted_out_of_process
    from ragft.tuning import document_data as dd

    facts = kd.knowledge_facts()
    folder = adapters_dir() / "documents" if folder is None else Path(folder)
    tokenizer = AutoTokenizer.from_pretrained(str(_ensure_converted_out_of_process()))
    pieces = dd.training_documents(tokenizer, facts)
    dataset = {
        **_knowledge_dataset(facts),
        "sections": dd.gold_section_ids(facts),
        "pieces": len(pieces),
        "piece_tokens": dd.PIECE_TOKENS,
        "tokens": sum(len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in pieces),
    }
    _, _, history = _train(
        dd.document_pairs(pieces), DOCUMENTS_CONFIG, folder, progress=progress, extra={"dataset": dataset}
    )
    _write_card(folder, "documents", dataset)
    return history


def train_knowledge_adapters(names: tuple[str, ...] = KNOWLEDGE_ADAPTERS, progress: bool = True) -> dict:
    """Train the named knowledge adapters ("knowledge": QA-tuned, "documents": document-tuned) into
    data/adapters/; returns {name: training record}."""
    bad = [n for n in names if n not in KNOWLEDGE_ADAPTERS]
    if bad or not names:
        raise ValueError(f"names must be a non-empty subset of {KNOWLEDGE_ADAPTERS}, got {names!r}")
    trainers = {"knowledge": train_knowledge_adapter, "documents": train_documents_adapter}
    return {name: trainers[name](progress=progress) for name in names}


def load_models(names: tuple[str, ...] = ("behavior", "knowledge")):
    """(model, tokenizer): the float32 base with the named adapters attached (switch with set_adapter,
    or `with model.disable_adapter():` for the base model)."""
    from ragft.tuning.lora import attach_adapter, load_base_for_training

    model, tokenizer = load_base_for_training()
    for name in names:
        model = attach_adapter(model, adapters_dir() / name, name)
    return model.eval(), tokenizer


def batch_size_for(tokenizer, prompts) -> int:
    """Prompts per batch: GEN_BATCH, fewer for long prompts (few-shot, RAG) so memory stays in budget."""
    longest = max(
        len(tokenizer.apply_chat_template(list(p), add_generation_prompt=True, tokenize=False))
        for p in prompts
    )
    return max(1, min(GEN_BATCH, BATCH_TOKENS * 4 // max(longest, 1)))  # ~4 characters per token


def generate_with(
    model, tokenizer, prompts, adapter: str | None, max_new_tokens: int, keep_going=None, desc=""
) -> list[str]:
    """Generate for every prompt with the named adapter on (None: the base model), in batches sized by
    prompt length (batch_size_for); a progress bar named desc (none when desc is empty)."""
    batch = batch_size_for(tokenizer, prompts)
    options = {"progress": bool(desc), "desc": desc}
    if adapter is None:
        with model.disable_adapter():
            return generate_batch(model, tokenizer, prompts, max_new_tokens, batch, keep_going, **options)
    model.set_adapter(adapter)
    return generate_batch(model, tokenizer, prompts, max_new_tokens, batch, keep_going, **options)


def forgetting(model, tokenizer, adapter: str) -> dict:
    """General prompts answered by the base model and with the adapter: how many stay right, how many
    change."""
    import re

    prompts = [[{"role": "user", "content": q}] for q, _ in GENERAL_PROMPTS]
    base = generate_with(model, tokenizer, prompts, None, 24, desc="general prompts, base")
    tuned = generate_with(model, tokenizer, prompts, adapter, 24, desc=f"general prompts, {adapter}")
    ok = [lambda text, k=k: bool(re.search(rf"\b({k})\b", text.lower())) for _, k in GENERAL_PROMPTS]
    rows = [
        {"prompt": q, "base": b, "tuned": t, "base_right": f(b), "tuned_right": f(t), "changed": b != t}
        for (q, _), b, t, f in zip(GENERAL_PROMPTS, base, tuned, ok, strict=True)
    ]
    n = len(rows)
    return {
        "base_right": sum(r["base_right"] for r in rows) / n,
        "tuned_right": sum(r["tuned_right"] for r in rows) / n,
        "changed": sum(r["changed"] for r in rows) / n,
        "rows": rows,
    }


def adapter_costs(name: str) -> dict:
    """Training time, steps, peak memory, adapter size and trainable share of a committed adapter.

    Wall-clock seconds depend on what else the machine ran; CPU seconds (recorded by newer runs) do not.
    """
    record = load_training_record(adapters_dir() / name)
    costs = {
        "train_seconds": round(record["train_seconds"], 1),
        "seconds_per_step": round(record["seconds_per_step"], 2),
        "steps": record["steps"],
        "train_peak_mb": round(record["peak_mb"]),
        "adapter_bytes": adapter_size_bytes(adapters_dir() / name),
        "trainable_fraction": record["trainable"]["fraction"],
    }
    if "train_cpu_seconds" in record:
        costs["train_cpu_seconds"] = round(record["train_cpu_seconds"], 1)
        costs["cpu_seconds_per_step"] = round(record["cpu_seconds_per_step"], 2)
    return costs


def behavior_experiment(train: bool = False, model=None, tokenizer=None) -> dict:
    """Compliance on the test split: base with a careful prompt, base few-shot, tuned (see module doc)."""
    started, cpu_started = time.perf_counter(), time.process_time()
    if train:
        train_behavior_adapter()
        run_failure_modes()
    split = behavior_records()
    test, shots = split["test"], few_shot_examples(split["train"])
    if model is None:
        model, tokenizer = load_models(("behavior",))
    conditions = {
        "base_prompted": ([bd.messages(r) for r in test], None),
        "base_few_shot": ([bd.few_shot_messages(r, shots) for r in test], None),
        "tuned": ([bd.messages(r) for r in test], "behavior"),
    }
    outputs, scores = {}, {}
    for name, (prompts, adapter) in conditions.items():
        outputs[name] = generate_with(
            model, tokenizer, prompts, adapter, BEHAVIOR_MAX_NEW_TOKENS, cp.can_still_comply, name
        )
        scores[name] = cp.score_outputs(outputs[name], test)
    return {
        "experiment": "lora-behavior",
        "compliance": {name: round(s["compliance"], 4) for name, s in scores.items()},
        "scores": scores,
        "test_ids": [r["id"] for r in test],
        "outputs": outputs,
        "few_shot_ids": [r["id"] for r in shots],
        "forgetting": forgetting(model, tokenizer, "behavior"),
        **adapter_costs("behavior"),
        "seconds": round(time.perf_counter() - started, 1),
        "cpu_seconds": round(time.process_time() - cpu_started, 1),
        "peak_mb": round(peak_rss_mb()),
    }


def rag_passages(questions: list[str], k: int = RAG_K) -> tuple[list[list[str]], list[list[str]]]:
    """BM25 top-k sections of the facts corpus (Django 5.2) for each question: (passages, their doc ids)."""
    from ragft.corpus.data import load_evalset
    from ragft.retrieval.retrieve import BM25Retriever

    corpus = load_evalset("facts", "test").corpus
    ids = sorted(corpus)
    texts = [f"{corpus[i].get('title', '')}\n{corpus[i]['text']}" for i in ids]
    retriever = BM25Retriever(ids, texts)
    rankings = retriever.search(questions, k=k)
    found = [[doc for doc, _ in ranking] for ranking in rankings]
    passages = [[" ".join(corpus[d]["text"].split())[:RAG_PASSAGE_CHARS] for d in docs] for docs in found]
    return passages, found


def knowledge_experiment(
    train: bool = False, model=None, tokenizer=None, train_adapters: tuple[str, ...] = KNOWLEDGE_ADAPTERS
) -> dict:
    """Accuracy on held-out paraphrases of T's facts: closed-book base, closed-book tuned on the facts, RAG
    with the base model. With train, the knowledge adapters named in train_adapters are trained first."""
    started, cpu_started = time.perf_counter(), time.process_time()
    if train:
        train_knowledge_adapters(train_adapters)
    facts = kd.knowledge_facts(("tuned",))  # C's trained answers are stale on purpose: see closed_book_scores
    questions = kd.held_out_questions(facts)
    passages, found = rag_passages(questions)
    if model is None:
        model, tokenizer = load_models(("knowledge",))
    closed = [kd.closed_book_messages(q) for q in questions]
    conditions = {
        "closed_book_base": (closed, None),
        "closed_book_tuned": (closed, "knowledge"),
        "rag_base": ([kd.rag_messages(q, p) for q, p in zip(questions, passages, strict=True)], None),
    }
    outputs, right = {}, {}
    for name, (prompts, adapter) in conditions.items():
        outputs[name] = generate_with(model, tokenizer, prompts, adapter, KNOWLEDGE_MAX_NEW_TOKENS, desc=name)
        right[name] = [answer_matches(o, f["answer"]) for o, f in zip(outputs[name], facts, strict=True)]
    hits = [any(d in f["gold_52"] for d in docs) for f, docs in zip(facts, found, strict=True)]
    n = len(facts)
    return {
        "experiment": "lora-knowledge",
        "accuracy": {name: round(sum(r) / n, 4) for name, r in right.items()},
        "n": n,
        "retrieval_hit_rate": round(sum(hits) / n, 4),
        "rag_right_when_hit": round(
            sum(r and h for r, h in zip(right["rag_base"], hits, strict=True)) / max(1, sum(hits)), 4
        ),
        "fact_ids": [f["fact_id"] for f in facts],
        "questions": questions,
        "gold": [f["answer"] for f in facts],
        "outputs": outputs,
        "right": right,
        "forgetting": forgetting(model, tokenizer, "knowledge"),
        **adapter_costs("knowledge"),
        "seconds": round(time.perf_counter() - started, 1),
        "cpu_seconds": round(time.process_time() - cpu_started, 1),
        "peak_mb": round(peak_rss_mb()),
    }


def closed_book_sets(n_unseen: int = kd.UNSEEN_ASKED, seed: int = SEED) -> dict[str, tuple[list[str], list]]:
    """{set: (questions, facts)} asked closed-book: T's held-out paraphrases ("tuned"), the canonical
    questions of a seeded sample of U ("unseen"), C's held-out paraphrases ("changed")."""
    tuned, changed = kd.knowledge_facts(("tuned",)), kd.knowledge_facts(("changed",))
    unseen = kd.unseen_facts(n_unseen, seed)
    return {
        "tuned": (kd.held_out_questions(tuned), tuned),
        "unseen": ([f["question"] for f in unseen], unseen),
        "changed": (kd.held_out_questions(changed), changed),
    }


def score_closed_book(outputs: dict[str, list[str]], sets: dict[str, tuple[list[str], list]]) -> dict:
    """Accuracy per set (answer_matches against `answer`, the 5.2 answer where 5.2 states it); for C also
    "changed_42" (matches the 4.2 answer) and "changed_stale" (matches the 4.2 answer and not the 5.2 one)."""
    scores = {}
    for name, (_, facts) in sets.items():
        said = outputs[name]
        if name == "changed":
            new = [answer_matches(o, f["answer_52"]) for o, f in zip(said, facts, strict=True)]
            old = [answer_matches(o, f["answer_42"]) for o, f in zip(said, facts, strict=True)]
            scores["changed_52"] = sum(new) / len(facts)
            scores["changed_42"] = sum(old) / len(facts)
            scores["changed_stale"] = sum(o and not n for o, n in zip(old, new, strict=True)) / len(facts)
        else:
            scores[name] = sum(
                answer_matches(o, f["answer"]) for o, f in zip(said, facts, strict=True)
            ) / len(facts)
    return {k: round(v, 4) for k, v in scores.items()}


def closed_book_scores(
    model=None,
    tokenizer=None,
    adapters: tuple[str | None, ...] = (None, *KNOWLEDGE_ADAPTERS),
    n_unseen: int = kd.UNSEEN_ASKED,
    seed: int = SEED,
) -> dict:
    """Closed-book accuracy of the base model (None) and each named adapter on T, U and C (closed_book_sets,
    scored by score_closed_book): {"scores": {name: {...}}, "outputs", "questions", "fact_ids", "n"}."""
    bad = [a for a in adapters if a is not None and a not in KNOWLEDGE_ADAPTERS]
    if bad or not adapters:
        raise ValueError(
            f"adapters must be a non-empty subset of {(None, *KNOWLEDGE_ADAPTERS)}, got {adapters!r}"
        )
    sets = closed_book_sets(n_unseen, seed)
    if model is None:
        model, tokenizer = load_models(tuple(a for a in adapters if a is not None))
    prompts = [kd.closed_book_messages(q) for questions, _ in sets.values() for q in questions]
    scores, outputs = {}, {}
    for adapter in adapters:
        name = adapter or "base"
        said = generate_with(
            model, tokenizer, prompts, adapter, KNOWLEDGE_MAX_NEW_TOKENS, desc=f"closed book, {name}"
        )
        outputs[name], at = {}, 0
        for set_name, (questions, _) in sets.items():
            outputs[name][set_name], at = said[at : at + len(questions)], at + len(questions)
        scores[name] = score_closed_book(outputs[name], sets)
    return {
        "scores": scores,
        "n": {name: len(facts) for name, (_, facts) in sets.items()},
        "questions": {name: questions for name, (questions, _) in sets.items()},
        "fact_ids": {name: [f["fact_id"] for f in facts] for name, (_, facts) in sets.items()},
        "outputs": outputs,
    }
