"""`python -m ragft bench retrieval`: how fast the first run is, and what the defaults score.

Measures CPU seconds (not wall-clock time: other programs sharing the machine do not inflate them) on the
threads torch was given: embedding speed per variant (float32, int8) on a seeded sample of chunks with each
vector's cosine to float32's; cold and warm seconds to chunk, embed, index and search a 5,000-document
collection; nDCG@10 per collection and method; peak memory.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
import warnings
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

BENCH_SEED = 0
SPEED_SAMPLE = 320  # chunks embedded per variant to measure speed (about 10-20 CPU-s each)
COLD_DOCUMENTS = 5000
RECORD = "retrieval_bench"
COMMAND = "python -m ragft bench retrieval --save"
COMMANDS = ("retrieval", "defaults", "tuned-defaults", "embedders", "domain", "collections", "pointers")


@contextmanager
def fresh_cache():
    """Run with an empty RAGFT_CACHE_DIR (a temporary folder), so nothing is read from earlier runs."""
    before = os.environ.get("RAGFT_CACHE_DIR")
    with tempfile.TemporaryDirectory(prefix="ragft-cold-") as folder:
        os.environ["RAGFT_CACHE_DIR"] = folder
        try:
            yield Path(folder)
        finally:
            if before is None:
                os.environ.pop("RAGFT_CACHE_DIR", None)
            else:
                os.environ["RAGFT_CACHE_DIR"] = before


def sample_texts(corpus: dict[str, dict], n: int, seed: int = BENCH_SEED) -> list[str]:
    """n chunk texts drawn with a seed from a BEIR corpus chunked by the default chunker."""
    from ragft.retrieval.retrieval_eval import chunk_collection

    chunks = chunk_collection(corpus)
    return [c.indexed_text for c in random.Random(seed).sample(chunks, min(n, len(chunks)))]


def embedding_speed(texts: Sequence[str], encoders: dict) -> dict[str, dict]:
    """Per variant (label -> encode function): chunks per CPU-second on these texts, and each vector's cosine
    to the first variant's (float32's)."""
    out: dict[str, dict] = {}
    reference = None
    for name, encode in encoders.items():
        clock = time.process_time()
        vectors = encode(list(texts))
        seconds = time.process_time() - clock
        reference = vectors if reference is None else reference
        cosine = (vectors * reference).sum(axis=1)
        out[name] = {
            "chunks": len(texts),
            "cpu_s": round(seconds, 2),
            "chunks_per_cpu_s": round(len(texts) / seconds, 1),
            "cosine_to_fp32_mean": round(float(cosine.mean()), 4),
            "cosine_to_fp32_min": round(float(cosine.min()), 4),
        }
    return out


def speed_variants(fp32) -> dict:
    """label -> encode function: float32, int8 (per channel, and per tensor), without length sorting, with
    inputs cut to 128 tokens, and bfloat16 (fast only on CPUs with bf16 instructions)."""
    import copy

    import torch

    from ragft.retrieval.quantize import bf16_embedder, quantized_embedder

    int8 = quantized_embedder(fp32)
    per_tensor = copy.copy(fp32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        per_tensor.model = torch.ao.quantization.quantize_dynamic(
            copy.deepcopy(fp32.model), {torch.nn.Linear}, dtype=torch.qint8
        )
    short, short_int8 = copy.copy(fp32), copy.copy(int8)
    short.max_seq_length = short_int8.max_seq_length = 128
    bf16 = bf16_embedder(fp32)

    def unsorted(texts: list[str]) -> np.ndarray:
        # one call per batch of 16 in the given order: no sorting by length across the collection
        return np.concatenate([fp32.encode(texts[i : i + 16]) for i in range(0, len(texts), 16)])

    return {
        "fp32": fp32.encode,
        "int8 per-channel": int8.encode,
        "int8 per-tensor": per_tensor.encode,
        "fp32, not sorted by length": unsorted,
        "fp32, 128 tokens": short.encode,
        "int8 per-channel, 128 tokens": short_int8.encode,
        "bf16": bf16.encode,
    }


def timed_pipeline(corpus: dict[str, dict], queries: Sequence[str], embedder) -> dict:
    """CPU and wall seconds for what eval-retrieval does by default: chunk, embed, index BM25, search
    (hybrid), reading any cache there is."""
    from ragft.retrieval.doc_search import DocumentRetriever
    from ragft.retrieval.retrieval_eval import chunk_collection

    cpu, wall = time.process_time(), time.perf_counter()
    chunks = chunk_collection(corpus)
    retriever = DocumentRetriever(chunks, "hybrid", embedder, show_progress=False)
    retriever.search(list(queries), 10)
    return {
        "chunks": len(chunks),
        "embedded": len(retriever.vectors),
        "cpu_s": round(time.process_time() - cpu, 1),
        "wall_s": round(time.perf_counter() - wall, 1),
    }


def cold_and_warm(corpus: dict[str, dict], queries: Sequence[str], embedder) -> dict:
    """The same pipeline twice in an empty cache: cold (chunks and vectors computed) then warm (read back)."""
    with fresh_cache():
        cold = timed_pipeline(corpus, queries, embedder)
        warm = timed_pipeline(corpus, queries, embedder)
    return {"documents": len(corpus), "queries": len(queries), "cold": cold, "warm": warm}


def sample_corpus(
    corpus: dict[str, dict], n: int = COLD_DOCUMENTS, seed: int = BENCH_SEED
) -> dict[str, dict]:
    """n documents drawn with a seed, in their original order."""
    keep = set(random.Random(seed).sample(sorted(corpus), min(n, len(corpus))))
    return {doc_id: doc for doc_id, doc in corpus.items() if doc_id in keep}


def mean_or_nan(values: Sequence[float]) -> float:
    """The mean, or nan for no values."""
    return float(np.mean(values)) if len(values) else float("nan")


def default_configs(tuned: bool = False) -> dict[str, dict]:
    """The three methods as eval-retrieval runs them by default, as defaults_study configs: with the released
    MiniLM, or (tuned) with MiniLM tuned on the collection, whose routed fusion has its own weights, rescaling
    and pin limit."""
    from ragft.retrieval.doc_search import BM25_SCORING, DEFAULT_SCORING
    from ragft.retrieval.fusion import pin_limit, route_settings
    from ragft.retrieval.retrieve import DEFAULT_FUSION, DEFAULT_WEIGHT

    hybrid = {
        "method": DEFAULT_FUSION,
        "dense": DEFAULT_SCORING,
        "bm25": BM25_SCORING,
        "weight": DEFAULT_WEIGHT,
    }
    if DEFAULT_FUSION == "routed":
        hybrid["route"], hybrid["scale"] = route_settings(tuned)
        hybrid["pins"] = pin_limit(tuned)
    return {
        "bm25": {"method": "bm25", "bm25": BM25_SCORING},
        "dense": {"method": "dense", "dense": DEFAULT_SCORING},
        "hybrid": hybrid,
    }


# The hybrid before these defaults were chosen: best chunk, routed with the weights written on the test sets.
PREVIOUS = {
    "method": "routed",
    "dense": "maxp",
    "route": {"keyword": 0.0, "mixed": 0.5, "semantic": 0.7},
    "scale": "minmax",
}


def collect_all(embedders: dict, sets=None, show_progress: bool = True) -> dict[str, dict]:
    """variant -> 'folder/split' -> CollectionRuns for every study set (vectors from the cache if there)."""
    from ragft.retrieval import defaults_study as st
    from ragft.runtime.paths import data_dir

    sets = st.STUDY_SETS if sets is None else sets
    return {
        variant: {
            st.set_key(folder, split): st.collect(
                data_dir() / "eval" / folder, split, embedder, show_progress
            )
            for folder, split in sets
        }
        for variant, embedder in embedders.items()
    }


def scores_table(runs: dict, configs: dict[str, dict]) -> dict[str, dict[str, float]]:
    """'folder/split' -> method -> nDCG@10."""
    from ragft.retrieval.defaults_study import ndcg

    return {key: {name: round(ndcg(r, c), 4) for name, c in configs.items()} for key, r in runs.items()}


def defaults_report(runs_by_variant: dict[str, dict]) -> dict:
    """The study per variant, and the per-query nDCG@10 of the defaults (for intervals in notebook 04)."""
    from ragft.retrieval import defaults_study as st

    candidates = st.candidate_configs()
    defaults = default_configs()
    shown = {
        **defaults,
        "previous": PREVIOUS,
        "dense maxp": {"method": "dense", "dense": "maxp"},
        "hybrid min-max": {**defaults["hybrid"], "scale": "minmax"},  # the default with min-max
    }
    report: dict = {"command": st.COMMAND, "candidates": len(candidates), "variants": {}}
    for variant, runs in runs_by_variant.items():
        result = st.study(runs, candidates)
        result["per_query"] = {
            key: {name: [round(float(v), 4) for v in st.per_query_ndcg(r, c)] for name, c in shown.items()}
            for key, r in runs.items()
        }
        result["query_ids"] = {key: r.query_ids for key, r in runs.items()}
        report["variants"][variant] = result
    first = next(iter(runs_by_variant.values()), {})
    report["route_kinds"] = {key: st.route_kinds(r) for key, r in first.items()}  # the same in every variant
    return report


def _embedders() -> dict:
    from ragft.retrieval.quantize import embedder_variant
    from ragft.runtime.models import load_embedder

    fp32 = load_embedder()
    return {variant: embedder_variant(variant, fp32) for variant in ("fp32", "bf16", "int8")}


def retrieval_report(threads: int = 1) -> dict:
    """Embedding speed per variant, cold and warm seconds for 5,000 documents, nDCG@10 per set and method."""
    import torch

    from ragft.corpus.data import load_beir
    from ragft.retrieval.doc_search import DEFAULT_VARIANT
    from ragft.retrieval.quantize import cpu_has_bf16, resolve_variant
    from ragft.runtime.budget import peak_rss_mb
    from ragft.runtime.paths import data_dir

    embedders = _embedders()
    torch.set_num_threads(threads)  # after loading, which sizes torch's pool from the CPU budget
    corpus, queries, _ = load_beir(data_dir() / "eval" / "faq")
    speed = embedding_speed(sample_texts(corpus, SPEED_SAMPLE), speed_variants(embedders["fp32"]))
    default = resolve_variant(DEFAULT_VARIANT)
    texts = [q["text"] for q in queries.values()]
    cold = {
        v: cold_and_warm(sample_corpus(corpus), texts, embedders[v]) for v in dict.fromkeys(["fp32", default])
    }
    runs = collect_all(embedders)
    return {
        "command": COMMAND,
        "threads": threads,
        "default_variant": default,
        "cpu_has_bf16": cpu_has_bf16(),
        "speed": speed,
        "cold_warm": cold,
        "ndcg@10": {variant: scores_table(r, default_configs()) for variant, r in runs.items()},
        "defaults": {k: v for k, v in default_configs().items()},
        "peak_mb": round(peak_rss_mb()),
    }


def run(command: str, save: bool = False) -> dict:
    """`python -m ragft bench COMMAND`: one of COMMANDS."""
    from ragft.runtime.paths import data_dir
    from ragft.runtime.records import record_path, save_record

    if command == "collections":
        from ragft.retrieval.extra_collections import build_collections

        return build_collections(data_dir() / "eval")
    if command == "defaults":
        from ragft.retrieval import defaults_study as st

        report = defaults_report(collect_all(_embedders()))
        name = st.RECORD
    elif command == "retrieval":
        report, name = retrieval_report(), RECORD
    elif command == "embedders":
        from ragft.retrieval import embedder_comparison as ec

        report, name = ec.report(), ec.RECORD
    elif command == "tuned-defaults":
        from ragft.retrieval import tuned_defaults as td

        report, name = td.report(), td.RECORD
    elif command == "domain":
        from ragft.retrieval import domain_tuning as dt

        report, name = dt.report(save=save), dt.RECORD
    elif command == "pointers":
        from ragft.retrieval import pointer_answers as pa

        report, name = pa.report(), pa.RECORD
    else:
        raise ValueError(f"command must be one of {list(COMMANDS)}, got {command!r}")
    if save:
        save_record(report, record_path(name))
    return report


def summary(report: dict) -> str:
    """A few readable lines of a bench report."""
    from ragft.retrieval import pointer_answers as pa

    if report.get("command") == pa.COMMAND:
        lines = []
        for key, row in report["sets"].items():
            for judged, fusions in row["margins"].items():
                for fusion, split in fusions.items():
                    parts = [
                        f"{kind} ({r['queries']}) {r['margin']:+.3f}"
                        for kind, r in split["by answer"].items()
                        if r["queries"]
                    ]
                    head = f"{key}, {judged} judgments, {fusion} minus {split['better single']}: "
                    lines.append(head + ", ".join(parts))
        return "\n".join(lines)
    if "choice_config" in report:  # bench tuned-defaults: one study, its table is set -> candidate -> score
        choice, first = report["choice"], report["first study"]["choice"]
        lines = [
            f"chosen on dev, tuned MiniLM: {choice} (on {', '.join(report['dev_sets'])})",
            f"first chosen: {first} (on {', '.join(report['first study']['dev_sets'])})",
        ]
        for key, row in report["ndcg@10"].items():
            best = max(row[label] for label in report["singles"])
            role = "dev" if key in report["dev_sets"] else "reported"
            lines.append(
                f"{key} ({role}): {row[choice]:.3f}, first choice {row[first]:.3f}, "
                f"better single method {best:.3f}"
            )
        return "\n".join(lines)
    lines = []
    for variant, row in report.get("speed", {}).items():
        lines.append(
            f"{variant}: {row['chunks_per_cpu_s']} chunks per CPU-second "
            f"(cosine to fp32 {row['cosine_to_fp32_mean']})"
        )
    for variant, cw in report.get("cold_warm", {}).items():
        cold, warm = cw["cold"]["cpu_s"], cw["warm"]["cpu_s"]
        lines.append(f"{variant}, {cw['documents']} documents: cold {cold} CPU-s, warm {warm} CPU-s")
    for variant, table in report.get("ndcg@10", {}).items():
        for key, row in table.items():
            lines.append(f"{variant} {key}: " + ", ".join(f"{m} {v:.3f}" for m, v in row.items()))
    for name, sets in report.get("sets", {}).items():
        if "tuned" in sets:  # bench domain: one row per collection, untuned (base) and tuned
            for side in ("base", "tuned"):
                scores = ", ".join(f"{m} {v:.3f}" for m, v in sets[side]["ndcg@10"].items())
                lines.append(f"{name}, {'untuned' if side == 'base' else 'tuned'}: {scores}")
            lines.append(f"{name}: {sets['pairs']} pairs, {sets['training']['cpu_s']} CPU-s of tuning")
            continue
        for key, row in sets.items():  # bench embedders: model -> collection -> row
            lines.append(f"{name} {key}: " + ", ".join(f"{m} {v:.3f}" for m, v in row["ndcg@10"].items()))
    if "max_pairs_on_dev" in report:
        caps = report["max_pairs_on_dev"]
        dense = ", ".join(
            f"{cap} {np.mean(list(row['dense'].values())):.3f}" for cap, row in caps["caps"].items()
        )
        lines.append(
            f"headings per collection, chosen on the dev FAQs: {caps['chosen']} (mean dense: {dense})"
        )
    if "cold_start" in report:
        first = report["cold_start"]
        lines.append(
            f"{first['documents']} documents: tuning on {first['pairs']} pairs, {first['tune_cpu_s']} CPU-s"
        )
    if "variants" in report:
        for variant, result in report["variants"].items():
            lines.append(f"{variant}: chosen on dev: {result['choice']}")
    return "\n".join(lines)
