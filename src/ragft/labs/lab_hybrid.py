"""Helpers for lab_hybrid: the facts a learner builds reader records from, the reader's training run, the
hidden pool the grader asks, the update scenario, and the diagnoses that name a misconception.

The learner's facts come from the reader pool (R), the grader's from the unseen pool (U) and the update
scenario's from the changed pool (C): the three are disjoint (ragft.corpus.fact_pools), so no fact a
learner trains on is ever graded. The reader starts from the committed behavior adapter (notebook 06),
which writes the JSON format but has never been shown a question without its answer. The scenario's
items, the step budget and the thresholds live in rules/lab_hybrid.json.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path

from ragft.tuning.reader_data import ABSTAIN, reader_prompt, target_text

RULES_FILE = Path(__file__).with_name("rules") / "lab_hybrid.json"
SEED = 0
MAX_NEW_TOKENS = 48

__all__ = ["ABSTAIN", "reader_prompt", "target_text"]  # re-exported for the lab notebook


@cache
def rules() -> dict:
    """The scenario's items, the step budget, the thresholds and the update question (read once)."""
    return json.loads(RULES_FILE.read_text())


def _stores() -> dict:
    from ragft.tuning.reader_adapter import reader_stores

    return reader_stores()


def passage_text(chunk, answer: str) -> str:
    """A passage as the lab shows it: the chunk's heading trail, then about passage_chars characters of its
    text around the answer where the chunk holds it (the chunk's start otherwise)."""
    from ragft.tuning.behavior_data import passage_window

    return f"{chunk.context}\n{passage_window(chunk.text, answer, rules()['passage_chars'])}"


def _facts_from(pool: str, seed: int) -> list[dict]:
    """Every usable fact of a pool as {id, kind, question, answer, gold, distractors}: the gold passage shows
    the answer, the two distractors (the retriever's best other chunks) do not."""
    from ragft.corpus.fact_pools import load_pool
    from ragft.tuning.behavior_data import passage_contains
    from ragft.tuning.reader_data import build_reader_records

    facts = []
    for record in build_reader_records(load_pool(pool), _stores(), seed=seed, abstain_share=0.0):
        if record["answer"] is None or len(record["passages"]) < 3:
            continue  # the reader data's dev split abstains on a few facts; those have no gold passage here
        answer = record["answer"]
        gold = passage_text(record["passages"][record["citation"] - 1], answer)
        others = [
            passage_text(c, answer) for i, c in enumerate(record["passages"]) if i != record["citation"] - 1
        ]
        if not passage_contains(gold, answer) or any(passage_contains(o, answer) for o in others):
            continue
        facts.append(
            {
                "id": record["id"],
                "kind": record["kind"],
                "question": record["question"],
                "answer": answer,
                "gold": gold,
                "distractors": others,
            }
        )
    return facts


def lab_facts(seed: int = SEED) -> dict[str, list[dict]]:
    """The learner's facts (reader pool R): "train" to build records from, "dev" (a seeded dev_facts of
    them) to check the trained reader on. The grader's facts are not here: see hidden_records."""
    facts = _facts_from("reader", seed)
    dev = set(random.Random(seed).sample(range(len(facts)), rules()["dev_facts"]))
    return {
        "train": [f for i, f in enumerate(facts) if i not in dev],
        "dev": [f for i, f in enumerate(facts) if i in dev],
    }


def asked_record(fact: Mapping, rng: random.Random | None) -> dict:
    """One evaluation record: with rng, the gold passage and one distractor (the gold one at a position drawn
    from rng); without, the two distractors only (the right reply is the abstention).
    {id, question, passages, answer (None: not in the documents), citation}."""
    if rng is None:
        passages, answer, citation = list(fact["distractors"][:2]), None, None
    else:
        passages = [fact["distractors"][0]]
        at = rng.randrange(2)
        passages.insert(at, fact["gold"])
        answer, citation = fact["answer"], at + 1
    return {
        "id": fact["id"],
        "question": fact["question"],
        "passages": passages,
        "answer": answer,
        "citation": citation,
    }


def eval_records(facts: Sequence[dict], no_answer_every: int = 3, seed: int = SEED) -> list[dict]:
    """Evaluation records for facts: every no_answer_every-th fact is asked with its two distractors only,
    the others with the gold passage and one distractor, in a seeded order (asked_record)."""
    if no_answer_every < 2:
        raise ValueError(f"no_answer_every must be >= 2, got {no_answer_every}")
    rng = random.Random(seed)
    return [asked_record(f, None if (i + 1) % no_answer_every == 0 else rng) for i, f in enumerate(facts)]


def hidden_records() -> list[dict]:
    """The grader's records: unseen facts (pool U), a kind-stratified sample asked with their gold passage
    and others asked with distractors only. The lab notebook never loads them."""
    from ragft.tuning.knowledge_vs_behavior import stratified

    hidden = rules()["hidden"]
    facts = _facts_from("unseen", hidden["seed"])
    answerable = stratified(facts, hidden["answerable"], hidden["seed"])
    chosen = {f["id"] for f in answerable}
    rest = [f for f in facts if f["id"] not in chosen]
    no_answer = random.Random(hidden["seed"]).sample(rest, hidden["no_answer"])
    rng = random.Random(hidden["seed"])
    return [asked_record(f, rng) for f in answerable] + [asked_record(f, None) for f in no_answer]


def training_pair(record: Mapping) -> tuple[list[dict], str]:
    """(prompt, target) for the training loop: the reader's prompt over the record's passages."""
    return reader_prompt(record["question"], record["passages"]), record["target"]


def lab_config(steps: int):
    """The training settings of the lab (the reader's, with the lab's learning rate and step budget)."""
    from ragft.tuning.experiments import BEHAVIOR_CONFIG

    budget = rules()["step_budget"]
    if not isinstance(steps, int) or not 1 <= steps <= budget:
        raise ValueError(f"steps must be a whole number from 1 to {budget} (the step budget), got {steps!r}")
    return BEHAVIOR_CONFIG.with_(
        max_steps=steps, warmup_steps=0, micro_batch_size=2, learning_rate=rules()["learning_rate"]
    )


def load_start():
    """The starting point: SmolLM2 with the behavior adapter of notebook 06 on (model, tokenizer)."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    from ragft.tuning.experiments import adapters_dir
    from ragft.tuning.lora import load_base_for_training, make_lora_model

    model, tokenizer = load_base_for_training()
    model = make_lora_model(model, lab_config(1))
    folder = adapters_dir() / rules()["start_adapter"]
    set_peft_model_state_dict(model, load_file(str(folder / "adapter_model.safetensors")))
    model.eval()
    return model, tokenizer


def train_reader(
    model, tokenizer, pairs: Sequence[tuple[list[dict], str]], steps: int, progress: bool = True
):
    """Continue training model (from load_start) on pairs for steps steps; the training history."""
    from ragft.tuning.lora import train_lora

    if not pairs:
        raise ValueError("pairs must hold at least one (prompt, target) pair")
    return train_lora(model, tokenizer, list(pairs), lab_config(steps), progress=progress)


def answer(model, tokenizer, records: Sequence[Mapping]) -> list[str]:
    """The reader's greedy replies to records, batched (generation stops once a reply cannot be valid)."""
    from ragft.runtime.batchgen import generate_batch
    from ragft.tuning.compliance import can_still_comply

    prompts = [reader_prompt(r["question"], r["passages"]) for r in records]
    return generate_batch(model, tokenizer, prompts, MAX_NEW_TOKENS, 8, can_still_comply, progress=False)


def score(outputs: Sequence[str], records: Sequence[Mapping]) -> dict:
    """Counts on records: compliant replies; right answers and abstentions on the answerable ones; abstentions
    on the ones no passage answers."""
    from ragft.rag.answers import answer_matches
    from ragft.tuning.reader_data import parse_reader_output

    if len(outputs) != len(records) or not records:
        raise ValueError(f"outputs ({len(outputs)}) and records ({len(records)}) must be equally many, > 0")
    counts = dict.fromkeys(
        ("n", "compliant", "answerable", "right", "abstained_answerable", "no_answer", "abstained_no_answer"),
        0,
    )
    for text, record in zip(outputs, records, strict=True):
        parsed = parse_reader_output(text, len(record["passages"]))
        counts["n"] += 1
        counts["compliant"] += parsed["compliant"]
        if record["answer"] is None:
            counts["no_answer"] += 1
            counts["abstained_no_answer"] += parsed["compliant"] and parsed["abstained"]
        else:
            counts["answerable"] += 1
            counts["abstained_answerable"] += parsed["abstained"]
            counts["right"] += (
                parsed["compliant"]
                and not parsed["abstained"]
                and answer_matches(parsed["answer"], record["answer"])
            )
    return counts


def constant_guess(records: Sequence[Mapping]) -> tuple[str, int]:
    """The trivial baseline: the most common answer among the answerable records, and how many it gets."""
    from collections import Counter

    from ragft.rag.answers import answer_matches

    answers = [r["answer"] for r in records if r["answer"] is not None]
    if not answers:
        raise ValueError("records must hold at least one answerable record")
    guess = Counter(answers).most_common(1)[0][0]
    return guess, sum(answer_matches(guess, a) for a in answers)


# ---- diagnoses: each message names a misconception (the grader's feedback) ----


def diagnose_placement(placement: Mapping) -> list[str]:
    """Problems with a {item id: "tuning" | "index"} answer: facts put into tuning data, behaviors into the
    index, and items missing or misnamed."""
    items = {item["id"]: item for item in rules()["items"]}
    if not isinstance(placement, Mapping):
        return [
            f"placement must be a dict of item id -> 'tuning' or 'index', got {type(placement).__name__}."
        ]
    problems = []
    missing = sorted(set(items) - set(placement))
    if missing:
        problems.append(f"placement misses {missing}: place every item.")
    wrong_values = sorted(k for k, v in placement.items() if v not in rules()["places"])
    if wrong_values:
        problems.append(f"{wrong_values}: each value must be 'tuning' or 'index'.")
    facts_tuned = sorted(k for k in items if placement.get(k) == "tuning" and items[k]["place"] == "index")
    behaviors_indexed = sorted(
        k for k in items if placement.get(k) == "index" and items[k]["place"] == "tuning"
    )
    if facts_tuned:
        problems.append(
            f"Facts in the tuning data ({', '.join(facts_tuned)}): a fact tuned into the weights goes stale "
            "when the documents change, and the model states it confidently even when retrieval brings "
            "nothing (notebook 07). Facts belong in the index, where an update is a re-index."
        )
    if behaviors_indexed:
        problems.append(
            f"A behavior put into the index ({', '.join(behaviors_indexed)}): an index supplies passages to "
            "read; it cannot make the model reply in a format, cite or abstain. Behaviors are learned from "
            "tuning examples."
        )
    return problems


def _parsed_target(target) -> dict | None:
    try:
        data = json.loads(target)
    except (TypeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) and set(data) == {"answer", "citations"} else None


def diagnose_records(records, facts: Sequence[Mapping], held_out: Sequence[Mapping] = ()) -> list[str]:
    """Problems with a learner's training records ({question, passages, target}) built from facts: each
    message names the misconception (facts in the targets, no distractors, no no-answer examples, ...)."""
    from ragft.tuning.behavior_data import passage_contains

    if not isinstance(records, list) or not records:
        return ["train_records must be a non-empty list of records (dicts with question, passages, target)."]
    if not all(isinstance(r, Mapping) and {"question", "passages", "target"} <= set(r) for r in records):
        return ["Every record must be a dict with the keys question, passages and target."]
    by_question = {f["question"]: f for f in facts}
    held = {f["question"] for f in held_out}
    problems: list[str] = []
    targets = [_parsed_target(r["target"]) for r in records]
    if any(t is None for t in targets):
        problems.append(
            'Some targets are not the reader\'s JSON ({"answer": ..., "citations": [...]}): build them '
            "with lab.target_text, so the model learns exactly the format it is graded on."
        )
        return problems
    abstaining = [t["answer"] == ABSTAIN for t in targets]
    closed_book = [i for i, r in enumerate(records) if not r["passages"] and not abstaining[i]]
    if closed_book:
        problems.append(
            f"Facts in the tuning targets: {len(closed_book)} records ask a question without passages and "
            "answer it. The reader would learn the facts themselves, which go stale at the next release "
            "and are stated confidently when retrieval misses (notebook 07). Every answer must come from a "
            "passage in the prompt."
        )
    if any(r["question"] in held for r in records):
        problems.append(
            "Records built from dev facts: the facts you evaluate on must never be trained on, or the dev "
            "score measures memory instead of reading. Build records from facts['train'] only."
        )
    single = sum(0 < len(r["passages"]) < 2 for r in records)
    if single:
        problems.append(
            f"No distractors: {single} records show one passage only. At test time the retriever returns "
            "several, most of them wrong; a reader trained on the gold passage alone learns to copy from "
            "whatever it is shown. Add a distractor next to the gold passage (RAFT)."
        )
    share = sum(abstaining) / len(records)
    low, high = rules()["no_answer_share"]
    if share < low:
        problems.append(
            f"No no-answer examples: {sum(abstaining)} of {len(records)} targets abstain ({share:.0%}; at "
            f"least {low:.0%} wanted). A reader that has never seen a question its passages do not answer "
            "never abstains: it makes an answer up from the nearest passage."
        )
    elif share > high:
        problems.append(
            f"Too many no-answer examples: {share:.0%} of the targets abstain (at most {high:.0%}). The "
            "reader learns that abstaining is usually right and abstains on answerable questions too."
        )
    positions = []
    for record, target, abstains in zip(records, targets, abstaining, strict=True):
        fact = by_question.get(record["question"])
        if fact is None or not record["passages"]:
            continue
        if abstains:
            if fact["gold"] in record["passages"] or any(
                passage_contains(p, fact["answer"]) for p in record["passages"]
            ):
                problems.append(
                    "A no-answer record shows the passage that answers it: its target teaches the reader to "
                    "ignore an answer it was given. Show distractors only when the target abstains."
                )
                break
            continue
        if fact["gold"] not in record["passages"]:
            problems.append(
                "An answered record lacks its gold passage: the target's answer is then in no passage, and "
                "the reader learns to answer from memory (facts in the tuning targets)."
            )
            break
        position = record["passages"].index(fact["gold"]) + 1
        positions.append(position)
        if target["citations"] != [position]:
            problems.append(
                f"A target cites {target['citations']} but the gold passage is number {position}: citations "
                "count from 1 and must point at the passage that holds the answer."
            )
            break
        if target["answer"] != fact["answer"]:
            problems.append(
                "A target's answer is not the fact's answer as the passage states it: the reader should copy "
                "the value from the passage, not a rewording of it."
            )
            break
    if len(positions) >= 8 and len(set(positions)) == 1:
        problems.append(
            f"The gold passage is always number {positions[0]}: the reader can learn to cite that position "
            "without reading. Put it at a random position (use the rng you were given)."
        )
    return problems


def diagnose_scores(scores: Mapping, share_no_answer: float | None = None) -> list[str]:
    """Problems with the trained reader's counts on the hidden records, measured against the thresholds;
    each names the likely cause."""
    limits = rules()["thresholds"]
    problems = []
    compliance = scores["compliant"] / scores["n"]
    right = scores["right"] / scores["answerable"]
    abstained = scores["abstained_no_answer"] / scores["no_answer"]
    over = scores["abstained_answerable"] / scores["answerable"]
    if compliance < limits["compliance"]:
        problems.append(
            f"Only {compliance:.0%} of the replies are valid JSON (at least {limits['compliance']:.0%}): "
            "check that the targets are lab.target_text's and that training ran."
        )
    if abstained < limits["abstained_no_answer"]:
        cause = (
            "no no-answer examples in the training data"
            if share_no_answer is not None and share_no_answer < rules()["no_answer_share"][0]
            else "too few steps, or no-answer records that still show the answer"
        )
        problems.append(
            f"The reader abstains on {scores['abstained_no_answer']} of {scores['no_answer']} questions no "
            f"passage answers (at least {limits['abstained_no_answer']:.0%}): it makes answers up. "
            f"Likely cause: {cause}."
        )
    if right < limits["right_answerable"]:
        cause = (
            f"it abstains on {scores['abstained_answerable']} of them: too many no-answer examples"
            if over >= 0.5
            else "records without distractors, or a gold passage always in the same place"
        )
        problems.append(
            f"The reader answers {scores['right']} of {scores['answerable']} answerable questions right (at "
            f"least {limits['right_answerable']:.0%}); {cause}."
        )
    return problems


def changed_records(n: int = 4) -> list[dict]:
    """Facts whose value changed between Django 4.2 and 5.2 (pool C), each with its 4.2 and its 5.2 gold
    passage: {id, question, answer_42, answer_52, passage_42, passage_52}."""
    from ragft.corpus.data import load_corpus
    from ragft.corpus.fact_pools import load_pool
    from ragft.tuning.behavior_data import passage_contains, passage_window

    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    sections = {v: {s["id"]: s for s in load_corpus(v)} for v in ("4.2", "5.2")}
    chars = rules()["passage_chars"]
    out = []
    for fact in sorted(load_pool("changed"), key=lambda f: f["id"]):
        row = {"id": fact["id"], "question": fact["question"]}
        for v, key in (("4.2", "42"), ("5.2", "52")):
            answer, gold = fact[f"answer_{key}"], fact[f"gold_{key}"]
            section = sections[v].get(gold[0]) if gold and answer else None
            if section is None:
                break
            text = f"{' > '.join(section['trail'])}\n{passage_window(section['text'], answer, chars)}"
            if not passage_contains(text, answer):
                break
            row[f"answer_{key}"], row[f"passage_{key}"] = answer, text
        else:
            out.append(row)
        if len(out) == n:
            break
    return out


def ask_changed(model, tokenizer, rows: Sequence[Mapping], version: str) -> list[str]:
    """The reader's replies to the changed facts over the index of one version (its passage for each)."""
    if version not in ("4.2", "5.2"):
        raise ValueError(f"version must be '4.2' or '5.2', got {version!r}")
    key = "passage_42" if version == "4.2" else "passage_52"
    records = [{"question": r["question"], "passages": [r[key]]} for r in rows]
    return answer(model, tokenizer, records)


def gives_value(outputs: Sequence[str], rows: Sequence[Mapping], version: str) -> int:
    """How many replies to the changed facts give that version's value (a valid, non-abstaining reply)."""
    from ragft.rag.answers import answer_matches
    from ragft.tuning.reader_data import parse_reader_output

    if version not in ("4.2", "5.2"):
        raise ValueError(f"version must be '4.2' or '5.2', got {version!r}")
    key = "answer_42" if version == "4.2" else "answer_52"
    count = 0
    for text, row in zip(outputs, rows, strict=True):
        parsed = parse_reader_output(text, 1)
        count += (
            parsed["compliant"] and not parsed["abstained"] and answer_matches(parsed["answer"], row[key])
        )
    return count
