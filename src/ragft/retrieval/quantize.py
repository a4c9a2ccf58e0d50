"""Faster embeddings on a CPU: torch's dynamic int8 quantization of MiniLM's Linear layers (per output
channel), optionally sparing the layers most sensitive to it, or bfloat16 weights.

int8 stores weights with one scale per output row and quantizes activations on the fly; bfloat16 keeps
float32's range with 8 bits of mantissa, and is fast only on CPUs with bf16 instructions (AVX512-BF16, AMX).
Notebook 04 measures each variant's speed and how close its vectors and rankings stay to float32's.
"""

from __future__ import annotations

import copy
import warnings

# fp32: as loaded; int8: every Linear layer in int8; int8-mixed: all but each block's feed-forward output
# layer (its inputs have the widest range); bf16: bfloat16 weights and activations.
VARIANTS = ("fp32", "int8", "int8-mixed", "bf16")
BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # /proc/cpuinfo flags of CPUs that compute in bfloat16 natively


def cpu_has_bf16(cpuinfo: str | None = None) -> bool:
    """Whether this CPU has bfloat16 instructions (Linux: /proc/cpuinfo flags; elsewhere False)."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as handle:
                cpuinfo = handle.read()
        except OSError:
            return False
    flags = {word for line in cpuinfo.splitlines() if line.startswith("flags") for word in line.split()}
    return any(flag in flags for flag in BF16_FLAGS)


def resolve_variant(variant: str) -> str:
    """ "auto" -> "bf16" on CPUs with bfloat16 instructions, else "fp32"; any other variant as given."""
    if variant == "auto":
        return "bf16" if cpu_has_bf16() else "fp32"
    return variant


def _keeps_float(name: str) -> bool:
    # BERT's feed-forward output: encoder.layer.N.output.dense (not attention.output.dense)
    return name.endswith("output.dense") and ".attention." not in name


def quantized_embedder(embedder, spare_ffn_output: bool = False):
    """A copy of an Embedder whose Linear layers run in int8 (per-channel weights, dynamic activations);
    with spare_ffn_output, each block's feed-forward output layer stays float32."""
    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    names = [n for n, m in embedder.model.named_modules() if isinstance(m, torch.nn.Linear)]
    spec = {n: per_channel_dynamic_qconfig for n in names if not (spare_ffn_output and _keeps_float(n))}
    quantized = copy.copy(embedder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's notice that this API moves to torchao
        quantized.model = quantize_dynamic(copy.deepcopy(embedder.model), spec, dtype=torch.qint8)
    quantized.variant = "int8-mixed" if spare_ffn_output else "int8"
    return quantized


class _Float32Output:
    """Calls a bfloat16 model and hands its last hidden state back as float32 (pooling stays float32)."""

    def __init__(self, model) -> None:
        self.model = model

    def __call__(self, **inputs):
        out = self.model(**inputs)
        out.last_hidden_state = out.last_hidden_state.float()
        return out


def bf16_embedder(embedder):
    """A copy of an Embedder whose model runs in bfloat16."""
    import torch

    converted = copy.copy(embedder)
    converted.model = _Float32Output(copy.deepcopy(embedder.model).to(torch.bfloat16))
    converted.variant = "bf16"
    return converted


def embedder_variant(variant: str = "fp32", embedder=None):
    """The course's MiniLM as one of VARIANTS (or "auto", see resolve_variant); the given embedder when it
    already is that variant."""
    variant = resolve_variant(variant)
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {list(VARIANTS)}, got {variant!r}")
    if embedder is None:
        from ragft.runtime.models import load_embedder

        embedder = load_embedder()
    if getattr(embedder, "variant", "fp32") == variant:
        return embedder
    if getattr(embedder, "variant", "fp32") != "fp32":
        raise ValueError(f"a {embedder.variant} embedder cannot be turned into {variant}: start from float32")
    if variant == "bf16":
        return bf16_embedder(embedder)
    return quantized_embedder(embedder, spare_ffn_output=variant == "int8-mixed")
