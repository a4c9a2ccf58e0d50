"""`python -m ragft bench domain`: teach MiniLM a collection's own words, from its headings alone.

Every section of a manual comes with a free training pair: its heading trail ("Settings > DOWNLOAD_DELAY")
and the text under it. Fine-tuning the embedder to find each section's text from its heading, against the
other sections of the same batch (in-batch negatives), needs no question and no label. Sections on the pages
that hold a judged question's answer, and copies of their text elsewhere, are left out of training entirely,
so the questions the method is scored on, and their answers, are never seen. Every setting below was fixed
before any test set was searched with a tuned model (only Scrapy's and Celery's dev FAQs were looked at).
The passage length was then cut from 128 tokens to 64 on those two dev FAQs alone: dense nDCG@10 0.614 and
0.589 against 0.616 and 0.593, at about half the CPU; one epoch instead of two lost about 0.02 on both.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
from collections.abc import Sequence
from pathlib import Path

from ragft.retrieval.embedder_comparison import SETS as FAQ_SETS

RECORD = "domain_tuning"
COMMAND = "python -m ragft bench domain --save"
# Headings sampled per collection: the smallest cap in CAPS whose tuned dense nDCG@10 on every dev FAQ stays
# within DEV_TOLERANCE of tuning on all its headings (choose_cap; the grid is in the record). About 2.3
# CPU-minutes of training on one thread.
MAX_PAIRS = 500
CAPS = (300, 400, 500, None)  # the caps compared on the dev FAQs; None: every heading
DEV_TOLERANCE = 0.01
EPOCHS = 2
LEARNING_RATE = 3e-5
BATCH = 32  # pairs per step; each heading's 31 other passages are its negatives
SCALE = 20.0  # cosine similarities x SCALE are the logits (sentence-transformers' default for this loss)
WARMUP = 0.1  # see _learning_rate_factor
QUERY_TOKENS = 32
PASSAGE_TOKENS = 64  # a section's opening: as good as 128 on the dev FAQs, at half the cost
CHUNK = 8  # texts embedded with a graph at a time (cached_step): sets the activations' memory, not the loss
SEED = 0
MEMORY_MB = 1900  # above the peak `bench domain` records (tuning, searching with two models); Binder: 2,048
MIN_PAIRS = 500  # fewest pairs eval-retrieval tunes on by default (every model measured had MAX_PAIRS)
# the embedder comparison's four FAQ collections, then Django's facts and identifiers test sets
SETS = (*FAQ_SETS, ("facts", "test"), ("identifiers", "test"))


OPENING = 200  # characters of a document's text compared to find a copy of a held-out document


def held_out_docs(corpus: dict[str, dict], qrels: dict[str, dict[str, dict[str, int]]]) -> set[str]:
    """Documents never trained on: every document on a page that holds a judged answer (any split), and
    every document elsewhere that opens with the same text as one of those (manuals repeat paragraphs).
    Without metadata.path, a document's page is its id up to "#"."""
    pages = {_page(corpus, d) for split in qrels.values() for q in split.values() for d in q if d in corpus}
    held = {d for d in corpus if _page(corpus, d) in pages}
    openings = {_opening(corpus[d]) for d in held} - {""}
    return held | {d for d, doc in corpus.items() if _opening(doc) in openings}


def _page(corpus: dict[str, dict], doc_id: str) -> str:
    # BEIR's metadata.path when the collection has one; else the id before "#" ("guide#install": "guide")
    return (corpus[doc_id].get("metadata") or {}).get("path", doc_id.split("#", 1)[0])


def _opening(doc: dict) -> str:
    return " ".join(doc.get("text", "").split())[:OPENING]


def _below_memory(limit_bytes: int | None) -> bool:
    """True where a known memory limit is below the MEMORY_MB tuning needs."""
    return limit_bytes is not None and limit_bytes < MEMORY_MB * 2**20


def untuned_reason(pairs: int, limit_bytes: int | None) -> str | None:
    """Why eval-retrieval's default leaves MiniLM untuned on a collection, or None to tune it: fewer than
    MIN_PAIRS pairs (no collection that small was measured) or a memory limit below MEMORY_MB."""
    if pairs < MIN_PAIRS:
        return f"{pairs} training pairs, fewer than the {MIN_PAIRS} tuning was measured with"
    if _below_memory(limit_bytes):
        return f"a memory limit of {limit_bytes // 2**20:,} MB, below the {MEMORY_MB:,} MB tuning needs"
    return None


def check_memory(limit_bytes: int | None) -> None:
    """Refuse to tune under a memory limit below MEMORY_MB (a clear error instead of the kernel's kill)."""
    if _below_memory(limit_bytes):
        raise MemoryError(
            f"tuning the embedder needs about {MEMORY_MB:,} MB of memory; this machine's limit is "
            f"{limit_bytes // 2**20:,} MB. Run it where there is more, or read the committed "
            f"record ({COMMAND})"
        )


def heading_pairs(
    first_chunks: Sequence[tuple[str, str, str]],
    skip: set[str],
    max_pairs: int | None = None,
    seed: int = SEED,
) -> list[tuple[str, str]]:
    """(heading trail, text under it) from each document's first chunk, given as (doc id, heading trail,
    text). Documents in skip, untitled ones, headings without text, and headings seen before (two
    sections called "Example" would be each other's false negatives) are left out; at most max_pairs
    (MAX_PAIRS as it is when called, so that setting it takes effect), drawn with a seed.
    """
    max_pairs = MAX_PAIRS if max_pairs is None else max_pairs
    if max_pairs < 1:
        raise ValueError(f"max_pairs must be >= 1, got {max_pairs}")
    pairs, seen = [], set()
    for doc_id, heading, body in first_chunks:
        if doc_id in skip or not heading.strip() or not body.strip() or heading in seen:
            continue
        seen.add(heading)
        pairs.append((heading, body))
    if len(pairs) > max_pairs:
        keep = sorted(random.Random(seed).sample(range(len(pairs)), max_pairs))
        pairs = [pairs[i] for i in keep]
    return pairs


def in_batch_loss(queries, passages, scale: float = SCALE):
    """Cross-entropy of each query picking its own passage among the batch's passages (normalized vectors)."""
    import torch

    logits = scale * queries @ passages.T
    return torch.nn.functional.cross_entropy(logits, torch.arange(len(queries)))


def _learning_rate_factor(step: int, steps: int) -> float:
    """The learning rate at a step, as a share of LEARNING_RATE: a rise over the first WARMUP of the steps
    times a linear fall over all of them, so it peaks near 0.9 and ends at 1/steps."""
    warm = max(1, int(WARMUP * steps))
    return min(1.0, (step + 1) / warm) * max(0.0, (steps - step) / steps)


def cached_step(encode, queries: Sequence[str], passages: Sequence[str], chunk: int = CHUNK):
    """One step's loss, with the gradients of a whole batch accumulated chunk by chunk (Gao et al. 2021,
    "gradient cache"). Every text is first embedded without a graph; the loss's gradient with respect to those
    vectors is taken; then each chunk is embedded again with a graph and pushed back along its share of that
    gradient. The gradients equal the whole batch's, yet only one chunk's activations are ever held: 1.3 GB
    peak instead of 2.5 GB (BATCH 32, 128-token passages), for ~30% more CPU (the graph-free pass). The
    random state is replayed per chunk, so dropout draws the same masks in both passes. encode(texts, tokens)
    gives unit vectors."""
    import torch

    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    sides = [(list(queries), QUERY_TOKENS), (list(passages), PASSAGE_TOKENS)]
    vectors, states = [], []
    with torch.no_grad():
        for texts, tokens in sides:
            parts = []
            for start in range(0, len(texts), chunk):
                states.append(torch.get_rng_state())
                parts.append(encode(texts[start : start + chunk], tokens))
            vectors.append(torch.cat(parts).requires_grad_(True))
    loss = in_batch_loss(*vectors)
    loss.backward()  # fills each cached vector's .grad; the encoder has no graph yet
    replay = iter(states)
    for (texts, tokens), cached in zip(sides, vectors, strict=True):
        for start in range(0, len(texts), chunk):
            torch.set_rng_state(next(replay))
            encode(texts[start : start + chunk], tokens).backward(cached.grad[start : start + chunk])
    return loss.detach()


def train(
    embedder, pairs: Sequence[tuple[str, str]], epochs: int = EPOCHS, show_progress: bool = True
) -> list[float]:
    """Fine-tune embedder's encoder in place on (heading, text) pairs; the loss of every step."""
    import torch

    from ragft.runtime.heap import return_freed_memory

    if len(pairs) < 2:
        raise ValueError(f"pairs must hold at least 2 pairs (each needs a negative), got {len(pairs)}")
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    model, tokenizer = embedder.model, embedder.tokenizer

    def encode(texts: list[str], tokens: int):
        batch = tokenizer(texts, padding=True, truncation=True, max_length=tokens, return_tensors="pt")
        hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        return torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9), dim=-1)

    torch.manual_seed(SEED)
    rng = random.Random(SEED)
    per_epoch = [list(range(len(pairs))) for _ in range(epochs)]
    for order in per_epoch:
        rng.shuffle(order)
    batches = [
        o[s : s + BATCH] for o in per_epoch for s in range(0, len(o), BATCH) if len(o[s : s + BATCH]) > 1
    ]
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _learning_rate_factor(s, len(batches)))
    steps = batches
    if show_progress:
        from tqdm.auto import tqdm

        steps = tqdm(batches, desc="tuning the embedder", unit="step")
    losses = []
    model.train()
    try:
        for batch in steps:
            optimizer.zero_grad()
            loss = cached_step(encode, [pairs[i][0] for i in batch], [pairs[i][1] for i in batch])
            optimizer.step()
            schedule.step()
            losses.append(round(loss.item(), 4))
            return_freed_memory()  # every chunk pads to its own lengths: hand the freed blocks back
    finally:
        model.eval()
    return losses


def pairs_key(pairs: Sequence[tuple[str, str]], base_tag: str) -> str:
    """A content hash of the training run: the base model, the pairs, every setting and the training code
    (a change to the loop or the loss trains again instead of reusing an older model)."""
    import inspect

    settings = [
        EPOCHS,
        LEARNING_RATE,
        BATCH,
        SCALE,
        WARMUP,
        QUERY_TOKENS,
        PASSAGE_TOKENS,
        CHUNK,
        SEED,
        base_tag,
    ]
    code = [inspect.getsource(f) for f in (train, cached_step, in_batch_loss, _learning_rate_factor)]
    digest = hashlib.sha256(json.dumps([settings, code, list(pairs)], ensure_ascii=False).encode())
    return digest.hexdigest()[:16]


def tuned_embedder(pairs: Sequence[tuple[str, str]], show_progress: bool = True):
    """MiniLM tuned on pairs, and its training log (losses, CPU seconds, threads); trained once, then read
    from the cache (a folder keyed by pairs_key, laid out like the base model's, so Embedder loads it)."""
    import os
    import time

    import torch

    from ragft.retrieval.embed import model_tag
    from ragft.runtime.embedder import Embedder
    from ragft.runtime.models import embedder_path
    from ragft.runtime.paths import cache_dir
    from ragft.runtime.threads import cgroup_memory_limit

    base = embedder_path()
    embedder = Embedder(base)
    folder = (
        cache_dir()
        / "tuned-embedders"
        / f"minilm-{pairs_key(pairs, model_tag(str(base), embedder.max_seq_length))}"
    )
    log_path = folder / "training.json"
    if log_path.is_file():
        return Embedder(folder), json.loads(log_path.read_text())
    check_memory(cgroup_memory_limit())
    clock = time.process_time()
    losses = train(embedder, pairs, show_progress=show_progress)
    log = {
        "pairs": len(pairs),
        "steps": len(losses),
        "cpu_s": round(time.process_time() - clock, 1),
        "threads": torch.get_num_threads(),
        "losses": losses,
    }
    partial = folder.with_name(f"{folder.name}.{os.getpid()}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    # everything but the weights (tokenizer, pooling, configs); the tuned weights are written next
    shutil.copytree(
        base, partial, ignore=shutil.ignore_patterns("*.safetensors", "*.bin", "onnx", "openvino")
    )
    embedder.model.save_pretrained(partial)
    (partial / "training.json").write_text(json.dumps(log))
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)  # the log is written last, inside: a folder with a log is complete
    return Embedder(folder), log


def collection_pairs(directory: Path, max_pairs: int | None = None) -> tuple[list[tuple[str, str]], int]:
    """A collection's training pairs (at most max_pairs, MAX_PAIRS when None), and how many of its documents
    were held out."""
    from ragft.corpus.data import load_beir
    from ragft.retrieval.retrieval_eval import chunk_collection

    corpus, _, qrels = load_beir(directory)
    return corpus_pairs(corpus, qrels, chunk_collection(corpus), max_pairs)


def corpus_pairs(
    corpus: dict[str, dict], qrels: dict, chunks: Sequence, max_pairs: int | None = None
) -> tuple[list[tuple[str, str]], int]:
    """collection_pairs for a corpus already loaded and chunked (eval-retrieval has both at hand)."""
    from ragft.retrieval.doc_scoring import doc_starts

    _, starts = doc_starts([c.doc_id for c in chunks])
    skip = held_out_docs(corpus, qrels)
    firsts = [(chunks[i].doc_id, chunks[i].context, chunks[i].text) for i in starts]
    return heading_pairs(firsts, skip, max_pairs), len(skip)


def choose_cap(dense: dict[str, dict[str, float]], tolerance: float = DEV_TOLERANCE) -> int | None:
    """The smallest cap whose dense nDCG@10 on every dev set is within `tolerance` of tuning on every heading.
    `dense` maps a cap ("all", or a number as text, as in the record) to set -> nDCG@10; None: no cap does."""
    if "all" not in dense:
        raise ValueError(f"dense must hold the 'all' row to compare with, got {sorted(dense)}")
    full = dense["all"]
    kept = [
        int(cap)
        for cap, row in dense.items()
        if cap != "all" and all(row[k] >= full[k] - tolerance for k in full)
    ]
    return min(kept) if kept else None


def cap_study(show_progress: bool = True) -> dict:
    """Tuned dense nDCG@10 on the dev FAQs for each cap in CAPS (models from the cache if there), and the cap
    choose_cap takes: the evidence behind MAX_PAIRS."""
    from ragft.retrieval.doc_search import DEFAULT_VARIANT
    from ragft.retrieval.quantize import embedder_variant, resolve_variant
    from ragft.runtime.paths import data_dir

    variant = resolve_variant(DEFAULT_VARIANT)
    dev = [(folder, split) for folder, split in FAQ_SETS if split == "dev"]
    rows: dict[str, dict] = {}
    for cap in CAPS:
        row = rows.setdefault(
            "all" if cap is None else str(cap), {"dense": {}, "pairs": {}, "tune_cpu_s": {}}
        )
        for folder, split in dev:
            pairs, _ = collection_pairs(data_dir() / "eval" / folder, cap or 10**9)
            tuned, log = tuned_embedder(pairs, show_progress)
            scores = compare_set(folder, split, {"tuned": embedder_variant(variant, tuned)}, show_progress)
            key = f"{folder}/{split}"
            row["dense"][key] = scores["tuned"]["ndcg@10"]["dense"]
            row["pairs"][key], row["tune_cpu_s"][key] = len(pairs), log["cpu_s"]
    chosen = choose_cap({cap: row["dense"] for cap, row in rows.items()})
    return {"caps": rows, "tolerance": DEV_TOLERANCE, "chosen": chosen}


def compare_set(folder: str, split: str, embedders: dict[str, object], show_progress: bool = True) -> dict:
    """nDCG@10 of the default methods with each embedder on one collection's split, per query too (the
    embedder comparison's measurement, one collection at a time)."""
    from ragft.retrieval.defaults_study import set_key
    from ragft.retrieval.embedder_comparison import compare_sets

    rows = compare_sets(embedders, [(folder, split)], show_progress)
    return {
        name: {k: v for k, v in sets[set_key(folder, split)].items() if k != "queries"}
        for name, sets in rows.items()
    }


def differences(result: dict) -> dict:
    """Tuned minus base per method, with its paired 95% interval over the collection's questions."""
    from ragft.runtime.stats import paired_bootstrap

    out = {}
    for method in ("dense", "hybrid"):
        tuned, base = (
            dict(zip(result[n]["query_ids"], result[n]["per_query"][method], strict=True))
            for n in ("tuned", "base")
        )
        mean, low, high = paired_bootstrap(tuned, base)
        out[method] = {"mean": round(mean, 4), "low": round(low, 4), "high": round(high, 4)}
    return out


def _tune_measured(pairs: Sequence[tuple[str, str]], what: str, save: bool, show_progress: bool):
    """tuned_embedder, and whether this run trained it (False: read back from the cache). A record (save)
    must train every model itself, so that its CPU seconds and peak memory include the training."""
    import time

    clock = time.process_time()
    tuned, log = tuned_embedder(pairs, show_progress)
    trained_here = time.process_time() - clock >= log["cpu_s"]
    if save and not trained_here:
        raise RuntimeError(
            f"{what}: its tuned model was read from the cache, so this run measured neither its "
            "training time nor its memory; delete the cache's tuned-embedders folder and run again"
        )
    return tuned, log, trained_here


def cold_start(save: bool = False, show_progress: bool = True) -> dict:
    """What tuning adds to the first run on the cold-start benchmark's collection (5,000 of Django's sections,
    drawn as `bench retrieval` draws them): CPU seconds to chunk it and collect its pairs, and to tune."""
    import time

    from ragft.corpus.data import load_beir
    from ragft.retrieval.retrieval_bench import sample_corpus
    from ragft.retrieval.retrieval_eval import chunk_collection
    from ragft.runtime.paths import data_dir

    corpus, _, qrels = load_beir(data_dir() / "eval" / "faq")
    sample = sample_corpus(corpus)
    clock = time.process_time()
    pairs, held_out = corpus_pairs(sample, qrels, chunk_collection(sample))
    pairs_s = time.process_time() - clock
    _, log, _ = _tune_measured(pairs, "cold start", save, show_progress)
    return {
        "documents": len(sample),
        "pairs": len(pairs),
        "held_out_documents": held_out,
        "chunk_and_pairs_cpu_s": round(pairs_s, 1),
        "tune_cpu_s": log["cpu_s"],
        "steps": log["steps"],
    }


def report(threads: int = 1, show_progress: bool = True, save: bool = False) -> dict:
    """Per collection: the pairs, the training cost, and nDCG@10 of every default method with MiniLM before
    and after tuning on that collection, in eval-retrieval's default variant. A record (save) must train
    every model itself, so that its CPU seconds and peak memory include the training."""

    import torch

    from ragft.retrieval.doc_search import DEFAULT_VARIANT
    from ragft.retrieval.quantize import embedder_variant, resolve_variant
    from ragft.retrieval.retrieval_bench import default_configs
    from ragft.runtime.budget import peak_rss_mb
    from ragft.runtime.paths import data_dir

    variant = resolve_variant(DEFAULT_VARIANT)
    base = embedder_variant(variant)
    torch.set_num_threads(threads)  # after loading, which sizes torch's pool from the CPU budget
    sets = {}
    for folder, split in SETS:
        pairs, held_out = collection_pairs(data_dir() / "eval" / folder)
        torch.set_num_threads(threads)
        tuned, log, trained_here = _tune_measured(pairs, folder, save, show_progress)
        result = compare_set(
            folder, split, {"base": base, "tuned": embedder_variant(variant, tuned)}, show_progress
        )
        sets[f"{folder}/{split}"] = {
            "pairs": len(pairs),
            "held_out_documents": held_out,
            "example_pairs": [list(p) for p in pairs[:3]],
            "training": log,
            "trained_here": trained_here,
            **result,
            "tuned_minus_base": differences(result),
        }
    return {
        "command": COMMAND,
        "threads": threads,
        "variant": variant,
        "hybrid": default_configs()["hybrid"],
        "settings": {
            "max_pairs": MAX_PAIRS,
            "epochs": EPOCHS,
            "learning_rate": LEARNING_RATE,
            "batch": BATCH,
            "scale": SCALE,
            "warmup": WARMUP,
            "query_tokens": QUERY_TOKENS,
            "passage_tokens": PASSAGE_TOKENS,
            "chunk": CHUNK,
            "seed": SEED,
        },
        "sets": sets,
        "max_pairs_on_dev": cap_study(show_progress),
        "cold_start": cold_start(save, show_progress),
        "peak_mb": round(peak_rss_mb()),
    }
