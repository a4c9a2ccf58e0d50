"""A cross-encoder reranker, fine-tuned here from the MiniLM checkpoint (no pretrained one ships offline).

A bi-encoder (ragft.retrieval.embed) embeds query and passage separately; a cross-encoder reads them together,
so every query word can attend to every passage word. That costs one forward pass per (query,
passage) pair, so it only reranks a first stage's top few. We train it on dev-split questions:
the gold section is the positive, BM25's best-ranked non-gold sections are hard negatives, and the
loss is a softmax over each group (pick the positive among its negatives).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from ragft.retrieval.fusion import Ranking

DEFAULT_MAX_LENGTH = 64  # query + passage word pieces: the chunk's heading trail and opening lines
DEFAULT_TRAINABLE_LAYERS = 2  # top encoder layers (+ pooler and head) trained; the rest stay frozen
DEFAULT_NEGATIVES = 3
DEFAULT_EPOCHS = 1
DEFAULT_LR = 2e-4  # high for fine-tuning, because the run is short (one pass over ~60 groups)
DEFAULT_BATCH_GROUPS = 2  # groups (1 positive + negatives) per optimizer step
RERANK_DEPTH = 10


@dataclass(frozen=True)
class TrainingGroup:
    """One query with one positive passage and its hard negatives."""

    query: str
    positive: str
    negatives: tuple[str, ...]


def best_chunk_of_each_doc(chunk_ranking: Ranking, chunk_to_doc: dict[str, str]) -> dict[str, str]:
    """doc id -> id of its best-ranked chunk: the passage a reranker reads for that document."""
    best: dict[str, str] = {}
    for chunk_id, _ in chunk_ranking:
        best.setdefault(chunk_to_doc[chunk_id], chunk_id)
    return best


def passages_per_query(
    chunk_rankings: Sequence[Ranking], chunk_to_doc: dict[str, str], chunk_texts: dict[str, str]
) -> list[dict[str, str]]:
    """For each query, doc id -> text of that document's best-ranked chunk (what the reranker reads)."""
    return [
        {doc: chunk_texts[chunk] for doc, chunk in best_chunk_of_each_doc(ranking, chunk_to_doc).items()}
        for ranking in chunk_rankings
    ]


def training_groups(
    queries: Sequence[str],
    rankings: Sequence[Ranking],
    qrels: Sequence[dict[str, int]],
    passages: Sequence[dict[str, str]],
    negatives: int = DEFAULT_NEGATIVES,
) -> list[TrainingGroup]:
    """Groups from a first stage's document rankings: the gold document's passage against the top
    `negatives` non-gold ones. Queries whose gold document has no passage are skipped."""
    if negatives < 1:
        raise ValueError(f"negatives must be >= 1, got {negatives}")
    groups = []
    for query, ranking, relevant, passage_of in zip(queries, rankings, qrels, passages, strict=True):
        gold = [d for d, g in relevant.items() if g > 0 and d in passage_of]
        if not gold:
            continue
        hard = [passage_of[d] for d, _ in ranking if relevant.get(d, 0) <= 0 and d in passage_of][:negatives]
        if hard:
            groups.append(TrainingGroup(query, passage_of[sorted(gold)[0]], tuple(hard)))
    return groups


def _load_quietly(auto_class, folder):
    """Load a model without the progress bar and the report that the new head is "MISSING"
    (it is missing on purpose: training it is the point)."""
    from transformers.utils import logging as hf_logging

    previous = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        return auto_class.from_pretrained(str(folder), num_labels=1)
    finally:
        hf_logging.set_verbosity(previous)


class CrossEncoder:
    """MiniLM with a one-number head: score(query, passage); higher means more relevant."""

    def __init__(
        self,
        folder=None,
        max_length: int = DEFAULT_MAX_LENGTH,
        seed: int = 0,
        trainable_layers: int = DEFAULT_TRAINABLE_LAYERS,
    ) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from ragft.runtime.models import embedder_path
        from ragft.runtime.threads import configure_torch_threads

        if not 16 <= max_length <= 512:
            raise ValueError(f"max_length must be between 16 and 512, got {max_length}")
        configure_torch_threads()
        folder = embedder_path() if folder is None else folder
        torch.manual_seed(seed)  # the new head (and pooler, if absent) start from seeded random weights
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder))
        self.model = _load_quietly(AutoModelForSequenceClassification, folder)
        self.model.eval()
        layers = self.model.bert.encoder.layer
        if not 0 <= trainable_layers <= len(layers):
            raise ValueError(f"trainable_layers must be between 0 and {len(layers)}, got {trainable_layers}")
        # Freezing the lower layers makes a training step cheaper (no gradients below the top layers)
        # and keeps what MiniLM learned about language; the top layers adapt to judging relevance.
        frozen = [self.model.bert.embeddings, *layers[: len(layers) - trainable_layers]]
        for module in frozen:
            for parameter in module.parameters():
                parameter.requires_grad_(False)
        self.max_length = max_length
        self.seed = seed

    def _batch(self, queries: Sequence[str], passages: Sequence[str]):
        return self.tokenizer(
            list(queries),
            list(passages),
            padding=True,
            truncation="only_second",
            max_length=self.max_length,
            return_tensors="pt",
        )

    def score(self, query: str, passages: Sequence[str], batch_size: int = 16) -> list[float]:
        """Relevance scores of passages for one query (no gradient)."""
        import torch

        out: list[float] = []
        with torch.inference_mode():
            for start in range(0, len(passages), batch_size):
                chunk = passages[start : start + batch_size]
                logits = self.model(**self._batch([query] * len(chunk), chunk)).logits
                out += logits[:, 0].tolist()
        return out

    def train(
        self,
        groups: Sequence[TrainingGroup],
        epochs: int = DEFAULT_EPOCHS,
        lr: float = DEFAULT_LR,
        batch_groups: int = DEFAULT_BATCH_GROUPS,
        show_progress: bool = True,
    ) -> list[float]:
        """Fine-tune on groups (softmax over positive + negatives); returns the loss of every step."""
        import torch

        if not groups:
            raise ValueError("groups must not be empty")
        if epochs < 1 or batch_groups < 1:
            raise ValueError(f"epochs and batch_groups must be >= 1, got {epochs} and {batch_groups}")
        rng = random.Random(self.seed)
        torch.manual_seed(self.seed)
        steps = epochs * -(-len(groups) // batch_groups)
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(trainable, lr=lr, weight_decay=0.01)
        warmup = max(1, steps // 10)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup)))
        )
        bar = None
        if show_progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=steps, desc="training cross-encoder", unit="step")
        losses: list[float] = []
        self.model.train()
        try:
            for _ in range(epochs):
                order = list(groups)
                rng.shuffle(order)
                for start in range(0, len(order), batch_groups):
                    batch = order[start : start + batch_groups]
                    loss = self._group_loss(batch)
                    optimizer.zero_grad()
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(trainable, 1.0)
                    optimizer.step()
                    schedule.step()
                    losses.append(float(loss.detach()))
                    if bar is not None:
                        bar.update(1)
        finally:
            self.model.eval()
            if bar is not None:
                bar.close()
        return losses

    def _group_loss(self, batch: Sequence[TrainingGroup]):
        import torch

        queries, passages, sizes = [], [], []
        for group in batch:
            members = [group.positive, *group.negatives]
            queries += [group.query] * len(members)
            passages += members
            sizes.append(len(members))
        logits = self.model(**self._batch(queries, passages)).logits[:, 0]
        loss = torch.zeros(())
        for row in torch.split(logits, sizes):
            loss = loss + torch.nn.functional.cross_entropy(row[None], torch.zeros(1, dtype=torch.long))
        return loss / len(batch)


def cross_scores(
    encoder, query: str, ranking: Ranking, passage_of: dict[str, str], depth: int = RERANK_DEPTH
) -> dict[str, float]:
    """Cross-encoder score of each of the top `depth` documents (those with a passage)."""
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    head = [d for d, _ in ranking[:depth] if d in passage_of]
    scores = encoder.score(query, [passage_of[d] for d in head]) if head else []
    return dict(zip(head, scores, strict=True))


def blend(ranking: Ranking, scores: dict[str, float], weight: float = 1.0) -> Ranking:
    """Reorder the scored documents by weight * cross score + (1 - weight) * first-stage score, both
    min-max normalized over those documents; unscored documents keep their order below them.

    weight 1 is a pure rerank, 0 keeps the first stage's order.
    """
    from ragft.retrieval.fusion import min_max

    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must be between 0 and 1, got {weight}")
    first = min_max([(d, s) for d, s in ranking if d in scores])
    cross = min_max(list(scores.items()))
    position: dict[str, int] = {}  # first-stage rank: breaks ties
    for i, (d, _) in enumerate(ranking):
        position.setdefault(d, i)
    head = sorted(
        ((d, weight * cross[d] + (1 - weight) * first[d]) for d in first),
        key=lambda item: (-item[1], position[item[0]]),
    )
    tail = [d for d, _ in ranking if d not in scores]
    return head + [(d, -1.0 - i) for i, d in enumerate(tail)]


def rerank(
    encoder, query: str, ranking: Ranking, passage_of: dict[str, str], depth: int = RERANK_DEPTH
) -> Ranking:
    """Reorder the top `depth` documents by cross-encoder score alone; the rest keep their order below."""
    return blend(ranking, cross_scores(encoder, query, ranking, passage_of, depth), 1.0)


def cross_scores_all(
    encoder,
    queries: Sequence[str],
    rankings: Sequence[Ranking],
    passages: Sequence[dict[str, str]],
    depth: int = RERANK_DEPTH,
    show_progress: bool = True,
) -> list[dict[str, float]]:
    """cross_scores() for every query: score once, then blend() with any weight without scoring again."""
    items = zip(queries, rankings, passages, strict=True)
    if show_progress:
        from tqdm.auto import tqdm

        items = tqdm(items, total=len(queries), desc="reranking", unit="query")
    return [cross_scores(encoder, q, r, p, depth) for q, r, p in items]


def blend_all(
    rankings: Sequence[Ranking], scores: Sequence[dict[str, float]], weight: float
) -> list[Ranking]:
    """blend() for every query."""
    return [blend(r, s, weight) for r, s in zip(rankings, scores, strict=True)]


def rerank_all(
    encoder,
    queries: Sequence[str],
    rankings: Sequence[Ranking],
    passages: Sequence[dict[str, str]],
    depth: int = RERANK_DEPTH,
    show_progress: bool = True,
) -> list[Ranking]:
    """rerank() for every query (one cross-encoder pass per query and candidate)."""
    scores = cross_scores_all(encoder, queries, rankings, passages, depth, show_progress)
    return blend_all(rankings, scores, 1.0)
