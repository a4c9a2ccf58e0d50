"""ragft.tuning.reader_adapter: the committed reader adapter is what its recipe makes, and saw pool R only."""

import json

import pytest

from ragft.tuning import reader_adapter as ra
from ragft.tuning.experiments import adapters_dir
from ragft.tuning.lora import load_training_record

PREFIX_STEPS = 3  # constant learning rate after warm-up: the first steps of the run are a short run


def test_the_committed_reader_saw_only_the_reader_pool():
    from ragft.corpus.fact_pools import pool_ids

    record = load_training_record(adapters_dir() / "reader")
    records = ra.reader_records()
    assert record["dataset"]["fingerprint"] == ra.records_fingerprint(records)
    assert {r["id"] for r in records} <= pool_ids("reader")
    assert not {r["id"] for r in records} & (pool_ids("tuned") | pool_ids("unseen") | pool_ids("changed"))
    assert record["dataset"]["train"] == sum(r["split"] == "train" for r in records)
    assert "pool R" in (adapters_dir() / "reader" / "README.md").read_text()


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_retraining_the_reader_reproduces_its_first_steps(tmp_path, monkeypatch):
    """~3 CPU-minutes: three steps of the recipe against the committed record's first three losses."""
    committed = load_training_record(adapters_dir() / "reader")
    monkeypatch.setattr(ra, "READER_CONFIG", ra.READER_CONFIG.with_(max_steps=PREFIX_STEPS))
    record = ra.train_reader_adapter(tmp_path / "reader", progress=False)
    assert record["loss"] == pytest.approx(committed["loss"][:PREFIX_STEPS], rel=1e-3)
    assert record["dataset"] == committed["dataset"]
    saved = json.loads((tmp_path / "reader" / "training.json").read_text())
    assert saved["dev_scores"]["n"] == committed["dev_scores"]["n"]
