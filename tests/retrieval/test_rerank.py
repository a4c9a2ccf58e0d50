"""ragft.retrieval.rerank: hard-negative groups, a seeded cross-encoder that learns, and reranking the top k.

The cross-encoder tests use a 2-layer, 16-wide BERT built here (MiniLM's tokenizer, random weights).
"""

import pytest

from ragft.retrieval import rerank


class LengthScorer:
    """Stands in for a CrossEncoder: longer passages score higher."""

    def score(self, query, passages):
        return [float(len(p)) for p in passages]


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from ragft.runtime.models import embedder_path

    folder = tmp_path_factory.mktemp("tiny-bert")
    tokenizer = AutoTokenizer.from_pretrained(str(embedder_path()))
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
    )
    # Seeded, and without touching the global generator: the starting weights must not depend on
    # which tests ran before this one in the same worker.
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = BertModel(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_best_chunk_of_each_doc():
    ranking = [("a#1", 3.0), ("b#0", 2.0), ("a#0", 1.0)]
    assert rerank.best_chunk_of_each_doc(ranking, {"a#0": "a", "a#1": "a", "b#0": "b"}) == {
        "a": "a#1",
        "b": "b#0",
    }


def test_passages_per_query_reads_each_documents_best_chunk():
    rankings = [[("a#1", 3.0), ("b#0", 2.0), ("a#0", 1.0)], [("a#0", 1.0)]]
    mapping = {"a#0": "a", "a#1": "a", "b#0": "b"}
    texts = {"a#0": "first", "a#1": "second", "b#0": "bee"}
    assert rerank.passages_per_query(rankings, mapping, texts) == [
        {"a": "second", "b": "bee"},
        {"a": "first"},
    ]


def test_training_groups_take_the_top_non_gold_documents_as_negatives():
    passages = {"g": "gold text", "x": "x text", "y": "y text", "z": "z text"}
    rankings = [[("x", 9.0), ("g", 8.0), ("y", 7.0), ("z", 6.0)], [("x", 1.0)]]
    qrels = [{"g": 1}, {"missing": 1}]
    groups = rerank.training_groups(["q1", "q2"], rankings, qrels, [passages, passages], negatives=2)
    assert groups == [
        rerank.TrainingGroup("q1", "gold text", ("x text", "y text"))
    ]  # q2's gold has no passage
    with pytest.raises(ValueError, match="negatives must be >= 1"):
        rerank.training_groups(["q"], rankings[:1], qrels[:1], [passages], negatives=0)


def test_rerank_reorders_only_the_top_depth():
    ranking = [("a", 5.0), ("bbb", 4.0), ("cc", 3.0), ("dddd", 2.0)]
    passages = {d: d for d, _ in ranking}
    out = rerank.rerank(LengthScorer(), "q", ranking, passages, depth=3)
    assert [d for d, _ in out] == ["bbb", "cc", "a", "dddd"]
    assert [s for _, s in out] == sorted((s for _, s in out), reverse=True)
    assert rerank.rerank_all(LengthScorer(), ["q"], [ranking], [passages], 3, show_progress=False) == [out]
    with pytest.raises(ValueError, match="depth must be >= 1"):
        rerank.rerank(LengthScorer(), "q", ranking, passages, depth=0)


def test_blend_moves_from_first_stage_to_cross_scores():
    ranking = [("a", 0.9), ("b", 0.5), ("c", 0.1), ("d", 0.0)]
    cross = {"a": 0.0, "b": 1.0, "c": 5.0}
    assert [d for d, _ in rerank.blend(ranking, cross, 0.0)] == ["a", "b", "c", "d"]
    assert [d for d, _ in rerank.blend(ranking, cross, 1.0)] == ["c", "b", "a", "d"]
    # normalized first stage a 1, b 0.5, c 0; cross a 0, b 0.2, c 1: a 0.5, b 0.35, c 0.5 (tie: a first)
    assert [d for d, _ in rerank.blend(ranking, cross, 0.5)] == ["a", "c", "b", "d"]
    with pytest.raises(ValueError, match="weight must be between 0 and 1"):
        rerank.blend(ranking, cross, 1.5)


def test_cross_encoder_is_seeded_and_learns_the_groups(tiny_folder):
    groups = [
        rerank.TrainingGroup(
            "default auto field", "DEFAULT_AUTO_FIELD default AutoField", ("cache backend", "url")
        ),
        rerank.TrainingGroup("cache backend", "CACHES backend memcached", ("auto field", "template loader")),
    ]
    first = rerank.CrossEncoder(tiny_folder, max_length=32, trainable_layers=1)
    second = rerank.CrossEncoder(tiny_folder, max_length=32, trainable_layers=1)
    assert first.score("q", ["p1", "p2"]) == second.score("q", ["p1", "p2"])
    frozen = [p.requires_grad for p in first.model.bert.encoder.layer[0].parameters()]
    assert not any(frozen) and all(p.requires_grad for p in first.model.classifier.parameters())
    losses = first.train(groups, epochs=30, lr=3e-2, show_progress=False)
    assert losses == second.train(groups, epochs=30, lr=3e-2, show_progress=False)
    # Learning, with a margin: the loss starts at ln 3 per step (4.39 over four steps) and, over 30
    # starting weights of the tiny model tried, ended at most 1.33; the positive's score led by >= 6.4.
    assert sum(losses[-4:]) < 0.5 * sum(losses[:4])
    scores = first.score("cache backend", ["CACHES backend memcached", "auto field"])
    assert scores[0] - scores[1] > 1.0


def test_cross_encoder_rejects_bad_arguments(tiny_folder):
    with pytest.raises(ValueError, match="max_length must be between 16 and 512"):
        rerank.CrossEncoder(tiny_folder, max_length=8)
    with pytest.raises(ValueError, match="trainable_layers must be between 0 and 2"):
        rerank.CrossEncoder(tiny_folder, trainable_layers=3)
    encoder = rerank.CrossEncoder(tiny_folder, max_length=32)
    with pytest.raises(ValueError, match="groups must not be empty"):
        encoder.train([])
