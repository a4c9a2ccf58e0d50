"""The behavior task's dataset: answer from numbered passages in a strict JSON schema, with citations.

Each record is a fact question, two or three short passages (the gold section and distractors of the same
kind, in a seeded random order) and its target output `{"answer": "<gold answer>", "citations": [<number of
the gold passage>]}`. The facts come from the fact pools (`ragft.corpus.fact_pools`): train and dev from the
reader pool R, test from the unseen pool U, so no adapter trained here has seen a fact that any adapter is
judged on. Records are split by fact, never by phrasing (checked by validate()), and a record's distractors
come from its own pool.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections import Counter, defaultdict
from collections.abc import Sequence

SPLITS = ("train", "dev", "test")
DEFAULT_SPLIT_FACTS = {"dev": 16, "test": 32}  # facts per held-out split; every other fact trains
TRAIN_POOL, TEST_POOL = "reader", "unseen"  # train and dev facts come from R, test facts from U
MIN_PASSAGES, MAX_PASSAGES = 2, 3
PASSAGE_CHARS = 140
SCHEMA_KEYS = ("answer", "citations")

INSTRUCTION = (
    "Answer the question using only the numbered passages. Reply with one JSON object and nothing else, "
    'exactly in this form: {"answer": "<short answer>", "citations": [<number of the passage you used>]}'
)


# The label check is frozen here rather than taken from ragft.rag.answers: the scorer may grow more lenient
# (it is tuned on model outputs), but a copy-from-the-passage label must appear in the passage literally,
# and the dataset must not change under an adapter trained on it.
_EMPTY_LITERAL_WORDS = {
    "''": ("empty string", '""'),
    '""': ("empty string", "''"),
    "[]": ("empty list",),
    "{}": ("empty dict", "empty dictionary"),
    "()": ("empty tuple",),
}


def normalize_text(text: str) -> str:
    """Lowercase, no backticks, single spaces, no trailing full stop: how passages and answers compare."""
    text = re.sub(r"\s+", " ", text.replace("`", "").lower()).strip()
    return text[:-1].rstrip() if text.endswith(".") else text


def passage_contains(passage: str, answer: str) -> bool:
    """Whether the answer appears in the passage literally (after normalize_text; an empty literal such as
    '' also in words): the condition for a passage to be citable for that answer."""
    gold = normalize_text(answer)
    if not gold:
        raise ValueError("answer must be a non-empty string")
    text = normalize_text(passage)
    return any(form in text for form in (gold, *_EMPTY_LITERAL_WORDS.get(gold, ())))


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def passage_window(text: str, answer: str, chars: int = PASSAGE_CHARS) -> str:
    """A short excerpt of a section (about `chars` characters, on word boundaries) that contains the answer
    where the section does, so that every passage in a prompt looks like a possible source."""
    if chars < 40:
        raise ValueError(f"chars must be >= 40, got {chars}")
    text = _clean(text)
    at = text.replace("`", " ").lower().find(answer.lower())
    start = 0 if at < chars // 2 else at - chars // 3
    window = text[start : start + chars]
    if start > 0:
        window = window.split(" ", 1)[-1] if " " in window else window
    if start + chars < len(text) and " " in window:
        window = window.rsplit(" ", 1)[0]
    return ("... " if start > 0 else "") + window + (" ..." if start + chars < len(text) else "")


def fact_items(usable_only: bool = True) -> list[dict]:
    """The facts of pools R and U with their gold section's text:
    {"fact_id", "kind", "answer", "questions": [canonical, paraphrase 1, paraphrase 2], "section", "pool"}.

    A fact is read in the newest version that states it (`gold_answer`). usable_only drops the few facts
    whose section does not contain the answer's literal text (reST markup inside the value, e.g.
    ``'``:class:`...`\\ ``'``): a passage that does not show the answer would teach the model to cite one
    thing and say another (the validator reports them as label errors).
    """
    from ragft.corpus.data import load_corpus
    from ragft.corpus.fact_pools import gold_answer, load_pool

    texts: dict[str, dict[str, str]] = {}
    items = []
    for pool in (TRAIN_POOL, TEST_POOL):
        for record in load_pool(pool):
            answer, gold = gold_answer(record)
            version = gold[0].split("/", 1)[0]
            if version not in texts:
                texts[version] = {s["id"]: s["text"] for s in load_corpus(version)}
            items.append(
                {
                    "fact_id": record["id"],
                    "kind": record["kind"],
                    "answer": answer,
                    "questions": [record["question"], *record["paraphrases"]],
                    "section": texts[version][sorted(gold)[0]],
                    "pool": pool,
                }
            )
    if usable_only:
        items = [f for f in items if passage_contains(passage_window(f["section"], f["answer"]), f["answer"])]
    return items


def _stratified_order(facts: Sequence[dict], seed: int) -> list[str]:
    """Fact ids in a seeded order that interleaves the kinds evenly (so any prefix has the same mix)."""
    by_kind: dict[str, list[str]] = defaultdict(list)
    for fact in sorted(facts, key=lambda f: f["fact_id"]):
        by_kind[fact["kind"]].append(fact["fact_id"])
    rng = random.Random(seed)
    order = []
    for kind in sorted(by_kind):
        ids = by_kind[kind]
        rng.shuffle(ids)
        order.extend((i / len(ids), fid) for i, fid in enumerate(ids))
    return [fid for _, fid in sorted(order)]


def split_facts(facts: Sequence[dict], split_facts_n: dict[str, int] | None = None, seed: int = 0) -> dict:
    """fact_id -> split, stratified by kind with a seeded shuffle.

    Facts that carry a "pool" are split by it: test facts are drawn from TEST_POOL only (its other facts
    are left out of the dataset), dev and train from the other facts. Facts without a pool (synthetic
    ones) are split among themselves: test first, then dev, the rest train.
    """
    sizes = dict(DEFAULT_SPLIT_FACTS if split_facts_n is None else split_facts_n)
    if set(sizes) - {"dev", "test"} or any(v < 0 for v in sizes.values()):
        raise ValueError(f"split_facts_n must map 'dev'/'test' to counts >= 0, got {sizes}")
    held_out = [f for f in facts if f.get("pool") == TEST_POOL]
    trainable = [f for f in facts if f.get("pool") != TEST_POOL]
    if not held_out:  # no pools: the test facts come out of the same facts as the others
        held_out = trainable
    need = sizes.get("dev", 0) + (sizes.get("test", 0) if held_out is trainable else 0)
    if need >= len(trainable) or sizes.get("test", 0) > len(held_out):
        raise ValueError(
            f"split_facts_n asks for {sum(sizes.values())} held-out facts of {len(facts)}"
            + ("" if held_out is trainable else f" ({len(held_out)} in pool {TEST_POOL!r})")
        )
    assignment = {fid: "test" for fid in _stratified_order(held_out, seed)[: sizes.get("test", 0)]}
    ranked = [fid for fid in _stratified_order(trainable, seed) if fid not in assignment]
    for at, fid in enumerate(ranked):
        assignment[fid] = "dev" if at < sizes.get("dev", 0) else "train"
    return assignment


def build_records(
    facts: Sequence[dict] | None = None,
    seed: int = 0,
    split_facts_n: dict[str, int] | None = None,
    train_phrasings: int = 3,
) -> list[dict]:
    """The behavior dataset: every phrasing of each training fact, one seeded phrasing of each held-out fact.

    Distractors are passages of other facts of the same kind and pool (so the right passage must be read,
    not guessed from its topic, and no training prompt shows a test fact's passage); their number (2 or 3
    passages in all) and the gold position vary by record.
    """
    if not 1 <= train_phrasings <= 3:
        raise ValueError(f"train_phrasings must be between 1 and 3, got {train_phrasings}")
    facts = list(fact_items() if facts is None else facts)
    assignment = split_facts(facts, split_facts_n, seed)
    facts = [f for f in facts if f["fact_id"] in assignment]
    by_kind: dict[tuple, list[dict]] = defaultdict(list)
    for fact in facts:
        by_kind[fact["kind"], fact.get("pool")].append(fact)
    rng = random.Random(seed + 1)
    records = []
    for fact in sorted(facts, key=lambda f: f["fact_id"]):
        split = assignment[fact["fact_id"]]
        phrasings = list(range(train_phrasings)) if split == "train" else [rng.randrange(3)]
        pool = [f for f in by_kind[fact["kind"], fact.get("pool")] if f["answer"] != fact["answer"]]
        for p in phrasings:
            n = rng.randint(MIN_PASSAGES, MAX_PASSAGES)
            distractors = rng.sample(pool, min(n - 1, len(pool)))
            passages = [passage_window(d["section"], d["answer"]) for d in distractors]
            gold = rng.randint(0, len(passages))
            passages.insert(gold, passage_window(fact["section"], fact["answer"]))
            records.append(
                {
                    "id": f"{fact['fact_id']}#q{p}",
                    "fact_id": fact["fact_id"],
                    "kind": fact["kind"],
                    "split": split,
                    "question": fact["questions"][p],
                    "passages": passages,
                    "answer": fact["answer"],
                    "citations": [gold + 1],
                }
            )
    return records


def user_message(record: dict) -> str:
    """The user turn every condition sees (base, few-shot and tuned): numbered passages, then the question."""
    numbered = "\n".join(f"[{i}] {p}" for i, p in enumerate(record["passages"], start=1))
    return f"Passages:\n{numbered}\n\nQuestion: {record['question']}"


def target_text(record: dict) -> str:
    """The output the task asks for, as the tuned model should write it: one line of JSON."""
    return json.dumps(
        {"answer": record["answer"], "citations": list(record["citations"])}, ensure_ascii=False
    )


def messages(record: dict) -> list[dict]:
    """The record as chat messages without the answer (the model's input): the instruction as the system
    turn (it replaces SmolLM2's default system line), then the user turn."""
    return [{"role": "system", "content": INSTRUCTION}, {"role": "user", "content": user_message(record)}]


def few_shot_messages(record: dict, shots: Sequence[dict]) -> list[dict]:
    """The prompt with worked examples before it (the ladder's first rung): user/assistant pairs."""
    turns: list[dict] = [{"role": "system", "content": INSTRUCTION}]
    for shot in shots:
        turns += [
            {"role": "user", "content": user_message(shot)},
            {"role": "assistant", "content": target_text(shot)},
        ]
    return turns + messages(record)[1:]


def by_split(records: Sequence[dict]) -> dict[str, list[dict]]:
    """Records grouped by split, each list in the dataset's order."""
    grouped: dict[str, list[dict]] = {s: [] for s in SPLITS}
    for record in records:
        grouped[record["split"]].append(record)
    return grouped


def dataset_fingerprint(records: Sequence[dict]) -> str:
    """A short sha256 of the records (stored with an adapter, so a changed dataset is noticed)."""
    blob = json.dumps(list(records), sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def validate(records: Sequence[dict]) -> dict:
    """Check a dataset before training on it; returns {"ok", "counts", "problems": [str, ...]}.

    - schema: every field present, 2-3 passages, exactly one citation in range, a known split;
    - label consistency: the cited passage contains the answer, and one fact has one answer everywhere;
    - duplicates: the same prompt twice;
    - leakage: a fact (any phrasing) or a normalized question in more than one split.
    """
    problems: list[str] = []
    required = {"id", "fact_id", "split", "question", "passages", "answer", "citations"}
    answers_by_fact: dict[str, set[str]] = defaultdict(set)
    splits_by_fact: dict[str, set[str]] = defaultdict(set)
    splits_by_question: dict[str, set[str]] = defaultdict(set)
    prompts: Counter = Counter()
    for r in records:
        missing = required - set(r)
        if missing:
            problems.append(f"schema: {r.get('id', '?')} lacks {sorted(missing)}")
            continue
        rid = r["id"]
        if r["split"] not in SPLITS:
            problems.append(f"schema: {rid} has split {r['split']!r}, not one of {SPLITS}")
        n = len(r["passages"])
        if not MIN_PASSAGES <= n <= MAX_PASSAGES:
            problems.append(f"schema: {rid} has {n} passages, allowed {MIN_PASSAGES}-{MAX_PASSAGES}")
        cites = r["citations"]
        if not (
            isinstance(cites, list) and len(cites) == 1 and isinstance(cites[0], int) and 1 <= cites[0] <= n
        ):
            problems.append(f"schema: {rid} citations {cites!r} must be one passage number between 1 and {n}")
        elif not passage_contains(r["passages"][cites[0] - 1], r["answer"]):
            problems.append(f"label: {rid} cites passage {cites[0]}, which does not contain {r['answer']!r}")
        if not str(r["answer"]).strip():
            problems.append(f"schema: {rid} has an empty answer")
        answers_by_fact[r["fact_id"]].add(r["answer"])
        splits_by_fact[r["fact_id"]].add(r["split"])
        splits_by_question[normalize_text(r["question"])].add(r["split"])
        prompts[user_message(r)] += 1
    problems += [
        f"label: fact {f} has different answers {sorted(a)}" for f, a in answers_by_fact.items() if len(a) > 1
    ]
    problems += [f"duplicate: a prompt appears {c} times ({p[-60:]!r})" for p, c in prompts.items() if c > 1]
    problems += [
        f"leakage: fact {f} is in splits {sorted(s)}" for f, s in splits_by_fact.items() if len(s) > 1
    ]
    problems += [
        f"leakage: question {q!r} is in splits {sorted(s)}"
        for q, s in splits_by_question.items()
        if len(s) > 1
    ]
    counts = Counter(r.get("split") for r in records)
    return {"ok": not problems, "counts": {s: counts.get(s, 0) for s in SPLITS}, "problems": problems}
