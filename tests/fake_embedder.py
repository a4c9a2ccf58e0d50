"""A stand-in for MiniLM in unit tests: hashed bag-of-words vectors, L2-normalized, no model load.

It has what ragft.retrieval.embed and .retrieve use of an Embedder: .encode, .dimension, .folder and
.max_seq_length. Texts that share words get close vectors, so dense search behaves sensibly.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np


class FakeEmbedder:
    def __init__(self, folder: Path, dimension: int = 64) -> None:
        self.folder = Path(folder)
        self.dimension = dimension
        self.max_seq_length = 256
        self.calls = 0

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dimension, dtype=np.float32)
        for word in re.findall(r"\w+", text.lower()):
            slot = int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dimension
            vector[slot] += 1.0
        norm = np.linalg.norm(vector)
        return vector / norm if norm else vector

    def encode(self, texts, batch_size: int = 16, normalize=None, show_progress: bool = False) -> np.ndarray:
        self.calls += 1
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._vector(t) for t in texts]).astype(np.float32)
