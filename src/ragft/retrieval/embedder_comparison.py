"""`python -m ragft bench embedders`: would a larger embedder lift the FAQ collections?

On real questions in plain words BM25 is weak and the hybrid leans on dense retrieval, so the dense model
sets the ceiling there. This runs eval-retrieval's default methods twice on the four FAQ collections, with
all-MiniLM-L6-v2 and with all-mpnet-base-v2 (5x the parameters) as the dense side, and measures what each
costs per chunk. Both embed each document's first chunk (the default scoring) in the default variant
(bfloat16 where the CPU has it), each up to its own input limit: MiniLM 256 of its tokens (the length the
chunker cuts to), mpnet 384 of its own.
"""

from __future__ import annotations

from collections.abc import Sequence

RECORD = "embedder_comparison"
COMMAND = "python -m ragft bench embedders --save"
SETS = (("scrapy-faq", "dev"), ("celery-faq", "dev"), ("faq", "test"), ("sqlalchemy-faq", "test"))
MODELS = ("all-MiniLM-L6-v2", "all-mpnet-base-v2")
SPEED_SAMPLE = 64  # chunks embedded per model and variant to measure speed and bf16's drift from float32
PROJECTED_DOCUMENTS = 5000  # the cold-start benchmark's collection size: one first chunk per document
METHODS = ("bm25", "dense", "hybrid")


def load_models(variant: str) -> dict[str, dict]:
    """model name -> {"fp32": embedder, variant: embedder} (MpnetUnavailable where mpnet is not installed)."""
    from ragft.retrieval.quantize import embedder_variant
    from ragft.runtime.models import load_embedder
    from ragft.runtime.mpnet import load_mpnet

    if variant not in ("fp32", "bf16", "int8"):
        raise ValueError(f"variant must be fp32, bf16 or int8, got {variant!r}")
    out = {}
    for name, fp32 in zip(MODELS, (load_embedder(), load_mpnet()), strict=True):
        out[name] = {"fp32": fp32, variant: embedder_variant(variant, fp32)}  # fp32: the same embedder
    return out


def speed(models: dict[str, dict], texts: Sequence[str]) -> dict[str, dict]:
    """Per model and variant: chunks per CPU-second on these texts, cosines to the model's own float32
    vectors, and the CPU seconds that PROJECTED_DOCUMENTS first chunks would take at that (rounded) speed."""
    from ragft.retrieval.retrieval_bench import embedding_speed

    out = {}
    for name, variants in models.items():
        rows = embedding_speed(texts, {v: e.encode for v, e in variants.items()})
        for variant, row in rows.items():
            row["projected_cpu_s"] = round(PROJECTED_DOCUMENTS / row["chunks_per_cpu_s"], 1)
            out[f"{name} {variant}"] = row
    return out


def compare_sets(
    embedders: dict[str, object], sets: Sequence[tuple[str, str]] = SETS, show_progress: bool = True
) -> dict:
    """model -> 'folder/split' -> nDCG@10 of each default method and its per-query scores."""
    from ragft.retrieval import defaults_study as st
    from ragft.retrieval.retrieval_bench import default_configs
    from ragft.runtime.paths import data_dir

    configs = default_configs()
    out: dict = {}
    for name, embedder in embedders.items():
        out[name] = {}
        for folder, split in sets:
            directory = data_dir() / "eval" / folder
            runs = st.collect(directory, split, embedder, show_progress, scorings=("firstp",))
            scores = {m: st.per_query_ndcg(runs, configs[m]) for m in METHODS}
            out[name][st.set_key(folder, split)] = {
                "queries": len(runs.query_ids),
                "ndcg@10": {m: round(float(v.mean()), 4) for m, v in scores.items()},
                "per_query": {m: v.round(4).tolist() for m, v in scores.items()},
                "query_ids": runs.query_ids,
            }
    return out


def report(threads: int = 1, sets: Sequence[tuple[str, str]] = SETS, show_progress: bool = True) -> dict:
    """The whole comparison: speed and drift per model, nDCG@10 per FAQ collection and method, peak memory."""
    import torch

    from ragft.corpus.data import load_beir
    from ragft.retrieval.doc_search import DEFAULT_VARIANT
    from ragft.retrieval.quantize import resolve_variant
    from ragft.retrieval.retrieval_bench import default_configs, sample_texts
    from ragft.runtime.budget import peak_rss_mb
    from ragft.runtime.paths import data_dir

    variant = resolve_variant(DEFAULT_VARIANT)
    models = load_models(variant)
    torch.set_num_threads(threads)  # after loading, which sizes torch's pool from the CPU budget
    corpus, _, _ = load_beir(data_dir() / "eval" / "faq")
    return {
        "command": COMMAND,
        "threads": threads,
        "variant": variant,
        "hybrid": default_configs()["hybrid"],
        "speed": speed(models, sample_texts(corpus, SPEED_SAMPLE)),
        "sets": compare_sets({name: v[variant] for name, v in models.items()}, sets, show_progress),
        "peak_mb": round(peak_rss_mb()),
    }
