"""ragft.retrieval.quantize: int8 Linear layers, a variant tag the cache keys on, vectors close to float32."""

import numpy as np
import pytest
import torch

from ragft.retrieval import embed
from ragft.retrieval.quantize import embedder_variant, quantized_embedder


class TinyEmbedder:
    """An Embedder-shaped object around a small random MLP: encode() mean-pools nothing, it just maps."""

    def __init__(self, folder):
        torch.manual_seed(0)
        self.model = torch.nn.Sequential(torch.nn.Linear(16, 64), torch.nn.GELU(), torch.nn.Linear(64, 32))
        self.folder, self.dimension, self.max_seq_length = folder, 32, 256

    def encode(self, texts, batch_size=16, show_progress=False):
        rows = [np.random.default_rng(len(t)).standard_normal(16).astype(np.float32) for t in texts]
        with torch.inference_mode():
            out = self.model(torch.from_numpy(np.stack(rows))).numpy()
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_quantized_copy_runs_int8_and_stays_close_to_float32(tmp_path):
    fp32 = TinyEmbedder(tmp_path)
    int8 = quantized_embedder(fp32)
    assert int8.variant == "int8" and getattr(fp32, "variant", "fp32") == "fp32"
    assert isinstance(fp32.model[0], torch.nn.Linear)  # the original is left as it was
    assert "quantized" in type(int8.model[0]).__module__
    texts = ["a" * n for n in range(1, 30)]
    cosine = (fp32.encode(texts) * int8.encode(texts)).sum(axis=1)
    assert cosine.min() > 0.98 and cosine.max() <= 1.0001


def test_variants_have_their_own_cache_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGFT_CACHE_DIR", str(tmp_path / "cache"))
    fp32 = TinyEmbedder(tmp_path)
    int8 = embedder_variant("int8", fp32)
    assert embedder_variant("int8", int8) is int8 and embedder_variant("fp32", fp32) is fp32
    a, b = embed.embedding_cache_path(["x"], fp32), embed.embedding_cache_path(["x"], int8)
    assert a != b and a.name == b.name and b.parent.name == f"{a.parent.name}-int8"
    with pytest.raises(ValueError, match="variant"):
        embedder_variant("int4", fp32)
    with pytest.raises(ValueError, match="start from float32"):
        embedder_variant("fp32", int8)


def test_auto_is_bf16_only_where_the_cpu_has_bf16_instructions(monkeypatch):
    from ragft.retrieval import quantize

    assert quantize.cpu_has_bf16("flags\t\t: fpu avx2 avx512_bf16 amx_tile\n")
    assert not quantize.cpu_has_bf16("flags\t\t: fpu avx2 avx512f\nmodel name: avx512_bf16 in a name\n")
    monkeypatch.setattr(quantize, "cpu_has_bf16", lambda cpuinfo=None: False)
    assert quantize.resolve_variant("auto") == "fp32" and quantize.resolve_variant("int8") == "int8"
    monkeypatch.setattr(quantize, "cpu_has_bf16", lambda cpuinfo=None: True)
    assert quantize.resolve_variant("auto") == "bf16"
