"""A sentence embedder: a transformer's token vectors, mean-pooled over real tokens, L2-normalized.

This is what sentence-transformers does for all-MiniLM-L6-v2 (its modules.json: Transformer ->
mean Pooling -> Normalize), written out in a few lines so learners can see it, and so the
kernel avoids importing sentence-transformers (~230 MB of resident memory on its own).
tests/runtime/test_embedder.py checks that both give the same vectors.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ragft.runtime.heap import return_freed_memory


class Embedder:
    """Holds a tokenizer and encoder loaded from a sentence-transformers folder (state is real)."""

    def __init__(self, folder: Path, max_seq_length: int | None = None) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        folder = Path(folder)
        pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
        if not pooling.get("pooling_mode_mean_tokens"):
            raise ValueError(f"{folder}: only mean pooling is supported, got {pooling}")
        modules = json.loads((folder / "modules.json").read_text())
        self.normalize_by_default = any(m["type"].endswith("Normalize") for m in modules)
        st_config = json.loads((folder / "sentence_bert_config.json").read_text())
        self.max_seq_length = int(max_seq_length or st_config.get("max_seq_length", 256))
        self.dimension = int(pooling["word_embedding_dimension"])
        self.folder = folder
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder))
        self.model = AutoModel.from_pretrained(str(folder), dtype=torch.float32).eval()

    def encode(
        self,
        texts: Sequence[str] | str,
        batch_size: int = 16,
        normalize: bool | None = None,
        show_progress: bool = False,
    ) -> np.ndarray:
        """Embed texts into a float32 array of shape (len(texts), dimension).

        batch_size 16 keeps the attention buffers (batch x heads x 256 x 256 floats per layer) near
        50 MB; larger batches are no faster on a CPU and cost memory that Binder does not have.
        """
        import torch

        if isinstance(texts, str):
            texts = [texts]
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        normalize = self.normalize_by_default if normalize is None else normalize
        # Sorting by length keeps padding (wasted compute) low; the original order is restored.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        starts = range(0, len(order), batch_size)
        if show_progress:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="embedding", unit="batch")
        with torch.inference_mode():
            for start in starts:
                idx = order[start : start + batch_size]
                batch = self.tokenizer(
                    [texts[i] for i in idx],
                    padding=True,
                    truncation=True,
                    max_length=self.max_seq_length,
                    return_tensors="pt",
                )
                tokens = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(tokens.dtype)
                pooled = (tokens * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
                if normalize:
                    pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                out[idx] = pooled.numpy()
                del batch, tokens, mask, pooled
                # Each batch has its own length, so freed blocks rarely fit the next one: without this the
                # process grows batch after batch. Trimming costs about 4% of MiniLM's speed.
                return_freed_memory()
        return out
