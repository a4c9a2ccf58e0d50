import numpy as np
import pytest

from ragft.runtime.models import load_embedder

TEXTS = ["DEFAULT_AUTO_FIELD", "How do I run the tests?", "Les chaînes unicode — ça marche ✓", "x " * 400]


@pytest.mark.slow
def test_matches_sentence_transformers():
    from sentence_transformers import SentenceTransformer

    from ragft.runtime.models import embedder_path

    ours = load_embedder().encode(TEXTS)
    reference = SentenceTransformer(str(embedder_path()), device="cpu").encode(TEXTS, convert_to_numpy=True)
    assert ours.shape == (4, 384) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, reference, atol=2e-5)


@pytest.mark.slow
def test_normalized_order_independent_and_batch_independent():
    embedder = load_embedder()
    a = embedder.encode(TEXTS, batch_size=1)
    b = embedder.encode(TEXTS[::-1], batch_size=3)[::-1]
    np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    raw = embedder.encode(TEXTS[:2], normalize=False)
    assert not np.allclose(np.linalg.norm(raw, axis=1), 1.0)


@pytest.mark.slow
def test_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        load_embedder().encode(["a"], batch_size=0)


@pytest.mark.slow
def test_encode_hands_freed_memory_back_after_every_batch(monkeypatch):
    import ragft.runtime.embedder

    calls = []
    monkeypatch.setattr(ragft.runtime.embedder, "return_freed_memory", lambda: calls.append(1) or True)
    load_embedder().encode(TEXTS + TEXTS[:1], batch_size=2)
    assert len(calls) == 3  # five texts in batches of two
