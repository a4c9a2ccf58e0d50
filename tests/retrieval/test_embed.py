"""ragft.retrieval.embed: the embedding cache (keyed by model and exact texts, atomic writes) and cosine."""

import numpy as np
import pytest

from ragft.retrieval import embed


class FakeEmbedder:
    """Stands in for Embedder: a folder that identifies the model, and an encode() that counts calls."""

    def __init__(self, folder, config="{}", dimension=3, max_seq_length=256):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.json").write_text(config)
        self.folder, self.dimension, self.max_seq_length = folder, dimension, max_seq_length
        self.calls = 0

    def encode(self, texts, batch_size=16, show_progress=False):
        self.calls += 1
        vectors = np.array([[len(t), t.count("a"), 1.0] for t in texts], dtype=np.float32)[
            :, : self.dimension
        ]
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("RAGFT_CACHE_DIR", str(folder))
    return folder


def test_miss_then_hit(cache, tmp_path):
    model = FakeEmbedder(tmp_path / "model-a")
    first = embed.embed_texts(["alpha", "beta"], model)
    second = embed.embed_texts(["alpha", "beta"], model)
    assert model.calls == 1
    np.testing.assert_array_equal(first, second)
    assert second.dtype == np.float32 and second.shape == (2, 3)
    assert [p.name for p in cache.rglob("*.npy")] == [
        embed.embedding_cache_path(["alpha", "beta"], model).name
    ]


@pytest.mark.parametrize(
    "other", [["alpha", "beta "], ["beta", "alpha"], ["alpha"], ["alpha", "beta", "gamma"]]
)
def test_other_content_or_order_is_a_miss(cache, tmp_path, other):
    model = FakeEmbedder(tmp_path / "model-a")
    embed.embed_texts(["alpha", "beta"], model)
    embed.embed_texts(other, model)
    assert model.calls == 2


def test_key_is_unambiguous():
    assert embed.texts_key(["ab", "c"]) != embed.texts_key(["a", "bc"])
    assert embed.texts_key(["x"]) == embed.texts_key(["x"])


def test_other_model_is_a_miss(cache, tmp_path):
    a = FakeEmbedder(tmp_path / "model-a", config='{"layers": 6}')
    b = FakeEmbedder(tmp_path / "model-b", config='{"layers": 12}')
    embed.embed_texts(["alpha"], a)
    embed.embed_texts(["alpha"], b)
    assert (a.calls, b.calls) == (1, 1)
    assert embed.embedding_cache_path(["alpha"], a).parent != embed.embedding_cache_path(["alpha"], b).parent


def test_same_model_other_sequence_limit_is_a_miss(cache, tmp_path):
    short = FakeEmbedder(tmp_path / "model-a", max_seq_length=128)
    long = FakeEmbedder(tmp_path / "model-a", max_seq_length=256)
    embed.embed_texts(["alpha"], short)
    embed.embed_texts(["alpha"], long)
    assert (short.calls, long.calls) == (1, 1)


def test_no_cache_never_reads_or_writes(cache, tmp_path):
    model = FakeEmbedder(tmp_path / "model-a")
    embed.embed_texts(["alpha"], model, cache=False)
    embed.embed_texts(["alpha"], model, cache=False)
    assert model.calls == 2
    assert not list(cache.rglob("*.npy"))


def test_cached_file_of_wrong_shape_is_recomputed(cache, tmp_path):
    model = FakeEmbedder(tmp_path / "model-a")
    path = embed.embedding_cache_path(["alpha", "beta"], model)
    path.parent.mkdir(parents=True)
    np.save(path, np.zeros((1, 3), dtype=np.float32))
    vectors = embed.embed_texts(["alpha", "beta"], model)
    assert model.calls == 1 and vectors.shape == (2, 3)
    assert np.load(path).shape == (2, 3)


def test_write_is_atomic(cache, tmp_path, monkeypatch):
    """A write that dies half-way leaves no file under the final name, so no reader can load it."""
    model = FakeEmbedder(tmp_path / "model-a")
    real_save = np.save

    def dying_save(file, array):
        real_save(file, array[:1])  # part of the data reaches the disk...
        raise OSError("disk full")  # ...then the process fails

    monkeypatch.setattr(embed.np, "save", dying_save)
    with pytest.raises(OSError, match="disk full"):
        embed.embed_texts(["alpha", "beta"], model)
    assert not embed.embedding_cache_path(["alpha", "beta"], model).exists()
    monkeypatch.setattr(embed.np, "save", real_save)
    vectors = embed.embed_texts(["alpha", "beta"], model)
    assert vectors.shape == (2, 3)
    assert [p.name for p in cache.rglob("*.npy")] == [
        embed.embedding_cache_path(["alpha", "beta"], model).name
    ]


def test_cosine_similarity():
    a = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
    b = np.array([[10.0, 0.0], [0.0, 0.5]])
    got = embed.cosine_similarity(a, b)
    np.testing.assert_allclose(got, [[1, 0], [0, 1], [2**-0.5, 2**-0.5]], atol=1e-12)
    np.testing.assert_allclose(embed.cosine_similarity(5 * a, b / 7), got)  # length does not matter
    assert got.shape == (3, 2)


def test_cosine_of_zero_vector_is_zero_not_nan():
    got = embed.cosine_similarity(np.zeros((1, 3)), np.ones((2, 3)))
    np.testing.assert_array_equal(got, np.zeros((1, 2)))
