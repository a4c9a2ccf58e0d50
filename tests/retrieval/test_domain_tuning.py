"""ragft.retrieval.domain_tuning: heading-to-text pairs, the in-batch loss, and what is held out."""

import json

import pytest
import torch

from ragft.retrieval import doc_search, fusion
from ragft.retrieval import domain_tuning as dt


def _corpus():
    return {
        "faq#a": {"metadata": {"path": "faq"}, "text": "Use the cache."},
        "faq#b": {"metadata": {"path": "faq"}, "text": "Another answer"},
        "guide#c": {"metadata": {"path": "guide"}, "text": "Unrelated"},
        "ref#d": {"metadata": {"path": "ref"}, "text": "Reference"},
        "errors#e": {"metadata": {"path": "errors"}, "text": "Use the\n  cache."},  # a copy of faq#a
        "empty#f": {"metadata": {"path": "empty"}, "text": ""},
    }


def test_held_out_docs_are_the_pages_with_a_judged_answer_and_copies_of_their_text():
    qrels = {"dev": {"q1": {"faq#a": 1}}, "test": {"q2": {"ref#d": 1}}}
    assert dt.held_out_docs(_corpus(), qrels) == {"faq#a", "faq#b", "ref#d", "errors#e"}
    assert dt.held_out_docs(_corpus(), {}) == set()
    # without metadata.path a page is the id up to "#"; a copy of a held-out text is held out too
    plain = {"p#a": {"text": "one"}, "p#b": {"text": "two"}, "q#c": {"text": "one"}, "q#d": {"text": "x"}}
    assert dt.held_out_docs(plain, {"test": {"q": {"p#a": 1, "gone": 1}}}) == {"p#a", "p#b", "q#c"}


def test_heading_pairs_skip_held_out_untitled_empty_and_repeated_headings():
    chunks = [
        ("a", "Guide > Install", "pip install it"),
        ("b", "Guide > Example", "first example"),
        ("c", "Ref > Example", "second"),
        ("d", "Guide > Example", "same heading again"),  # would be a false negative of b
        ("e", "Guide > Empty", "   "),
        ("f", "FAQ", "the answer"),
        ("g", "", "an untitled document"),
    ]
    pairs = dt.heading_pairs(chunks, skip={"f"})
    assert pairs == [
        ("Guide > Install", "pip install it"),
        ("Guide > Example", "first example"),
        ("Ref > Example", "second"),
    ]


def test_heading_pairs_are_capped_by_a_seeded_draw_that_keeps_their_order():
    chunks = [(f"d{i}", f"H{i}", f"body {i}") for i in range(50)]
    first = dt.heading_pairs(chunks, set(), max_pairs=10)
    assert first == dt.heading_pairs(chunks, set(), max_pairs=10)
    assert len(first) == 10 and first == sorted(first, key=lambda p: int(p[0][1:]))
    assert first != dt.heading_pairs(chunks, set(), max_pairs=10, seed=1)
    with pytest.raises(ValueError, match="max_pairs must be >= 1, got 0"):
        dt.heading_pairs(chunks, set(), max_pairs=0)


def test_heading_pairs_read_max_pairs_when_called(monkeypatch):
    """Setting domain_tuning.MAX_PAIRS (notebook 04's exercise) changes the cap of every later call."""
    chunks = [(f"d{i}", f"H{i}", f"body {i}") for i in range(50)]
    assert len(dt.heading_pairs(chunks, set())) == 50
    monkeypatch.setattr(dt, "MAX_PAIRS", 20)
    assert dt.heading_pairs(chunks, set()) == dt.heading_pairs(chunks, set(), max_pairs=20)
    assert len(dt.heading_pairs(chunks, set())) == 20


def test_choose_cap_takes_the_smallest_cap_within_the_tolerance_of_every_heading():
    dense = {"300": {"a": 0.58, "b": 0.60}, "500": {"a": 0.605, "b": 0.595}, "all": {"a": 0.61, "b": 0.60}}
    assert dt.choose_cap(dense) == 500  # 300 loses 0.03 on a
    assert dt.choose_cap(dense, tolerance=0.05) == 300
    assert dt.choose_cap({"300": {"a": 0.1}, "all": {"a": 0.6}}) is None
    with pytest.raises(ValueError, match="the 'all' row"):
        dt.choose_cap({"300": {"a": 0.1}})


def test_in_batch_loss_is_low_when_each_query_matches_its_own_passage():
    vectors = torch.nn.functional.normalize(torch.eye(4) + 0.01, dim=-1)
    matched = dt.in_batch_loss(vectors, vectors)
    shuffled = dt.in_batch_loss(vectors, vectors[[1, 2, 3, 0]])
    assert float(matched) < 0.01 < 10 < float(shuffled)


def test_learning_rate_rises_during_warmup_then_falls_to_zero():
    factors = [dt._learning_rate_factor(s, 100) for s in range(100)]
    warm = int(dt.WARMUP * 100)
    assert factors[0] < factors[warm - 1] <= 1.0
    assert all(a >= b for a, b in zip(factors[warm:], factors[warm + 1 :], strict=False))
    assert factors[-1] == pytest.approx(0.01)


def _tiny_encoder(dropout: float):
    """A two-layer BERT with random weights and an encode(texts, tokens) over character codes."""
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=128,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=24,
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
    )
    model = BertModel(config)

    def encode(texts, tokens):
        ids = torch.tensor([[ord(c) % 128 for c in t[: min(tokens, 8)].ljust(8)] for t in texts])
        return torch.nn.functional.normalize(model(input_ids=ids).last_hidden_state.mean(1), dim=-1)

    return model, encode


def _gradients(model) -> torch.Tensor:
    grads = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
    model.zero_grad()
    return grads


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_cached_step_gives_the_gradient_of_embedding_the_batch_with_a_graph(dropout):
    # The reference embeds the batch chunk by chunk with a graph, in the order cached_step uses; without
    # dropout chunking changes nothing, so every chunk size must also give the whole batch's gradient.
    queries = ["install", "spiders", "settings", "feeds", "items", "logging"]
    passages = [
        "pip install scrapy",
        "class MySpider",
        "DOWNLOAD_DELAY = 2",
        "FEEDS = {}",
        "Item()",
        "LOG_LEVEL",
    ]
    model, encode = _tiny_encoder(dropout)
    model.train()
    whole = None
    for chunk in (len(queries), 4, 1):
        torch.manual_seed(1)
        vectors = [
            torch.cat([encode(side[s : s + chunk], 8) for s in range(0, 6, chunk)])
            for side in (queries, passages)
        ]
        reference = dt.in_batch_loss(*vectors)
        reference.backward()
        expected = _gradients(model)
        whole = expected if whole is None else whole
        torch.manual_seed(1)
        loss = dt.cached_step(encode, queries, passages, chunk=chunk)
        assert loss.item() == pytest.approx(reference.item(), abs=1e-6)
        assert torch.allclose(_gradients(model), expected, atol=1e-6), chunk
        if not dropout:
            assert torch.allclose(expected, whole, atol=1e-6), chunk
    with pytest.raises(ValueError, match="chunk must be >= 1, got 0"):
        dt.cached_step(encode, queries, passages, chunk=0)


def test_train_lowers_the_loss_on_its_pairs_and_leaves_the_model_in_eval_mode(monkeypatch):
    from ragft.runtime.embedder import Embedder
    from ragft.runtime.models import embedder_path

    embedder = Embedder(embedder_path())
    pairs = [
        ("Settings > DOWNLOAD_DELAY", "Seconds to wait between two requests to the same site."),
        ("Spiders > Arguments", "Pass arguments to a spider on the command line with -a name=value."),
        ("Item Pipeline > Dropping items", "Raise DropItem in process_item to discard an item."),
        ("Feed exports > Storage", "Feeds can be written to local files, FTP servers or S3 buckets."),
    ]

    def loss() -> float:
        with torch.no_grad():
            headings = torch.from_numpy(embedder.encode([h for h, _ in pairs]))
            texts = torch.from_numpy(embedder.encode([t for _, t in pairs]))
        return float(dt.in_batch_loss(headings, texts))

    before = loss()
    monkeypatch.setattr(dt, "LEARNING_RATE", 1e-4)  # a few steps must show the direction
    losses = dt.train(embedder, pairs, epochs=4, show_progress=False)
    assert len(losses) == 4 and not embedder.model.training
    assert loss() < before
    with pytest.raises(ValueError, match="pairs must hold at least 2 pairs"):
        dt.train(embedder, pairs[:1], show_progress=False)
    with pytest.raises(ValueError, match="epochs must be >= 1, got 0"):
        dt.train(embedder, pairs, epochs=0, show_progress=False)


def test_the_cache_key_changes_with_the_pairs_the_base_model_and_the_settings(monkeypatch):
    pairs = [("A", "a"), ("B", "b")]
    key = dt.pairs_key(pairs, "base")
    assert key == dt.pairs_key(list(pairs), "base")
    assert key != dt.pairs_key(pairs[::-1], "base") != dt.pairs_key(pairs, "other")
    monkeypatch.setattr(dt, "LEARNING_RATE", 1e-4)
    assert dt.pairs_key(pairs, "base") != key


@pytest.mark.parametrize("folder", [folder for folder, _ in dt.SETS])
def test_no_question_or_answer_of_a_collection_is_trained_on(folder):
    """Every pair comes from a document off the judged pages, and no question is in any pair."""
    from ragft.corpus.data import load_beir
    from ragft.retrieval.doc_scoring import doc_starts
    from ragft.retrieval.retrieval_eval import chunk_collection
    from ragft.runtime.paths import data_dir

    directory = data_dir() / "eval" / folder
    corpus, queries, qrels = load_beir(directory)
    pairs, held_out = dt.collection_pairs(directory)
    held = dt.held_out_docs(corpus, qrels)
    gold = {d for split in qrels.values() for q in split.values() for d in q}
    assert gold <= held and len(held) == held_out
    chunks = chunk_collection(corpus)
    _, starts = doc_starts([c.doc_id for c in chunks])
    source = {(chunks[i].context, chunks[i].text): chunks[i].doc_id for i in starts}
    assert 100 <= len(pairs) <= dt.MAX_PAIRS
    assert not {source[pair] for pair in pairs} & held
    # An identifier (CSRF_COOKIE_AGE) is named in many sections besides the one that defines it, the only
    # one judged (and held out): the words of a question, not a name, are what must not be trained on.
    names = {"setting", "check", "option"}
    questions = [q["text"].casefold() for q in queries.values() if q["metadata"]["kind"] not in names]
    assert len(questions) == (0 if folder == "identifiers" else len(queries))
    assert not any(q in h.casefold() or q in t.casefold() for h, t in pairs for q in questions)


def test_tuned_embedder_is_read_back_from_the_cache_without_training_again(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGFT_CACHE_DIR", str(tmp_path))
    calls = []

    def fake_train(embedder, pairs, epochs=dt.EPOCHS, show_progress=True):
        calls.append(len(pairs))
        with torch.no_grad():
            embedder.model.embeddings.word_embeddings.weight[0, 0] = 42.0  # what training changed
        return [1.0, 0.5]

    monkeypatch.setattr(dt, "train", fake_train)
    pairs = [("A", "a"), ("B", "b")]
    first, log = dt.tuned_embedder(pairs, show_progress=False)
    again, log_again = dt.tuned_embedder(pairs, show_progress=False)
    assert calls == [2] and log == log_again and log["losses"] == [1.0, 0.5]
    assert first.folder == again.folder and first.folder.parent == tmp_path / "tuned-embedders"
    assert json.loads((first.folder / "training.json").read_text())["pairs"] == 2
    assert not list(first.folder.parent.glob("*.partial"))
    assert again.model.embeddings.word_embeddings.weight[0, 0].item() == 42.0  # the tuned weights, reloaded


def test_eval_retrieval_can_tune_the_embedder_on_the_collection_first(tmp_path, monkeypatch):
    from fake_embedder import FakeEmbedder
    from test_defaults_study import _beir

    from ragft.retrieval.retrieval_eval import evaluate_collection

    monkeypatch.setenv("RAGFT_CACHE_DIR", str(tmp_path / "cache"))
    folder = _beir(tmp_path / "beir")
    seen = []

    def fake_tuned(pairs, show_progress=True):
        seen.extend(pairs)
        return FakeEmbedder(tmp_path / "tuned"), {"cpu_s": 1.5}

    monkeypatch.setattr(dt, "tuned_embedder", fake_tuned)
    built = []  # what each DocumentRetriever was given: (route_weights, scale, pin_max)
    original = doc_search.DocumentRetriever.__init__

    def spy(self, *args, **kwargs):
        original(self, *args, **kwargs)
        built.append((self.route_weights, self.scale, self.pin_max))

    monkeypatch.setattr(doc_search.DocumentRetriever, "__init__", spy)
    with pytest.raises(ValueError, match="tune_embedder needs at least 2 titled documents .* 0 .10 of 10"):
        evaluate_collection(folder, "dense", show_progress=False, variant="fp32", tune_embedder=True)
    extra = [{"_id": f"x{i}", "title": f"Extra {i}", "text": f"unjudged text {i}"} for i in range(3)]
    with (folder / "corpus.jsonl").open("a") as handle:
        handle.writelines(json.dumps(doc) + "\n" for doc in extra)
    result = evaluate_collection(folder, "dense", show_progress=False, variant="fp32", tune_embedder=True)
    assert result["tuned_embedder"] == {"pairs": 3, "held_out_documents": 10, "cpu_s": 1.5, "skipped": None}
    assert seen == [(f"Extra {i}", f"unjudged text {i}") for i in range(3)]
    assert evaluate_collection(folder, "bm25", show_progress=False)["tuned_embedder"] is None
    assert (
        evaluate_collection(folder, "dense", show_progress=False, tune_embedder=False)["tuned_embedder"]
        is None
    )
    # by default it tunes only from MIN_PAIRS pairs on: 3 are too few, so MiniLM stays as it is
    default = evaluate_collection(folder, "hybrid", show_progress=False, variant="fp32")
    assert default["tuned_embedder"]["skipped"].startswith("3 training pairs, fewer than the 500")
    assert default["tuned_embedder"]["cpu_s"] is None and len(seen) == 3
    # the released model's list is fused with the weights chosen for it, a tuned model's with its own
    assert (default["route_weights"], default["scale"]) == (fusion.ROUTE_WEIGHTS, fusion.ROUTE_SCALE)
    assert default["pin_max"] == fusion.PIN_MAX_TEXTS
    assert built[-1] == (fusion.ROUTE_WEIGHTS, fusion.ROUTE_SCALE, fusion.PIN_MAX_TEXTS)
    monkeypatch.setattr(dt, "MIN_PAIRS", 3)
    default = evaluate_collection(folder, "hybrid", show_progress=False, variant="fp32")
    assert default["tuned_embedder"]["skipped"] is None and len(seen) == 6
    tuned = (fusion.TUNED_ROUTE_WEIGHTS, fusion.TUNED_ROUTE_SCALE)
    assert (default["route_weights"], default["scale"]) == tuned
    assert default["pin_max"] == fusion.TUNED_PIN_MAX_TEXTS
    assert built[-1] == (*tuned, fusion.TUNED_PIN_MAX_TEXTS)
    convex = evaluate_collection(folder, "hybrid", fusion="convex", show_progress=False, variant="fp32")
    assert convex["route_weights"] is None and convex["scale"] == "minmax" and convex["pin_max"] is None


def test_the_default_tunes_only_from_min_pairs_on_and_where_memory_allows():
    assert dt.untuned_reason(dt.MIN_PAIRS, None) is None
    assert dt.untuned_reason(dt.MIN_PAIRS, dt.MEMORY_MB * 2**20) is None
    assert (
        dt.untuned_reason(dt.MIN_PAIRS - 1, None)
        == "499 training pairs, fewer than the 500 tuning was measured with"
    )
    assert dt.untuned_reason(800, 2**30) == "a memory limit of 1,024 MB, below the 1,900 MB tuning needs"


def test_tuning_refuses_to_start_under_a_memory_limit_it_would_exceed():
    dt.check_memory(None)  # no limit known
    dt.check_memory(dt.MEMORY_MB * 2**20)
    with pytest.raises(MemoryError, match="needs about 1,900 MB of memory; this machine's limit is 1,024 MB"):
        dt.check_memory(2**30)


def test_compare_set_scores_each_embedder_and_differences_pair_them_by_question(tmp_path, monkeypatch):
    from fake_embedder import FakeEmbedder
    from test_defaults_study import _beir

    monkeypatch.setenv("RAGFT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("RAGFT_DATA_DIR", str(tmp_path / "data"))
    _beir(tmp_path / "data" / "eval" / "tiny")
    embedder = FakeEmbedder(tmp_path / "a")
    result = dt.compare_set("tiny", "test", {"base": embedder, "tuned": embedder}, show_progress=False)
    assert set(result) == {"base", "tuned"} and result["base"] == result["tuned"]
    assert set(result["base"]) == {"ndcg@10", "per_query", "query_ids"}
    assert dt.differences(result) == {m: {"mean": 0.0, "low": 0.0, "high": 0.0} for m in ("dense", "hybrid")}
    # one question better by 1.0 out of two: a mean of +0.5
    two = {
        side: {"query_ids": ["a", "b"], "per_query": {"dense": d, "hybrid": d}}
        for side, d in (("base", [0.0, 0.5]), ("tuned", [1.0, 0.5]))
    }
    assert dt.differences(two)["dense"]["mean"] == 0.5


def test_a_record_refuses_a_model_read_back_from_the_cache(monkeypatch):
    # A cached model costs almost no CPU here, yet its log holds the CPU seconds of the run that trained it.
    monkeypatch.setattr(dt, "tuned_embedder", lambda pairs, show_progress=True: ("model", {"cpu_s": 1e6}))
    assert dt._tune_measured([("A", "a")], "scrapy-faq", save=False, show_progress=False) == (
        "model",
        {"cpu_s": 1e6},
        False,
    )
    with pytest.raises(RuntimeError, match="scrapy-faq: its tuned model was read from the cache"):
        dt._tune_measured([("A", "a")], "scrapy-faq", save=True, show_progress=False)
    monkeypatch.setattr(dt, "tuned_embedder", lambda pairs, show_progress=True: ("model", {"cpu_s": 0.0}))
    assert dt._tune_measured([("A", "a")], "scrapy-faq", save=True, show_progress=False)[2] is True
