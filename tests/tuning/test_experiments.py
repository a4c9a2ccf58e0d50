"""The fine-tuning experiments: their settings, the committed adapters, and (slow) that retraining them
reproduces the committed records and metrics."""

import json

import pytest

from ragft.cli import build_parser
from ragft.tuning import experiments as ex
from ragft.tuning.lora import VALID_TARGETS, load_training_record

LOSS_TOLERANCE = 1e-3  # relative, per step: same seed and data order on one thread
METRIC_TOLERANCE = 0.07  # absolute, on a rate over 32 records: two records either way


def test_the_experiment_command_is_registered():
    args = build_parser().parse_args(["experiment", "lora-behavior", "--json", "--train"])
    assert (args.name, args.json, args.train) == ("lora-behavior", True, True)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["experiment", "lora-unknown"])


def test_the_knowledge_experiment_can_retrain_one_adapter():
    args = build_parser().parse_args(["experiment", "lora-knowledge", "--train", "--adapter", "documents"])
    assert (args.name, args.train, args.adapter) == ("lora-knowledge", True, "documents")
    assert build_parser().parse_args(["experiment", "lora-knowledge"]).adapter is None
    with pytest.raises(SystemExit):
        build_parser().parse_args(["experiment", "lora-knowledge", "--adapter", "reader"])
    with pytest.raises(ValueError, match="names must be a non-empty subset of"):
        ex.train_knowledge_adapters(("reader",))
    with pytest.raises(ValueError, match="adapters must be a non-empty subset of"):
        ex.closed_book_scores(adapters=("behavior",))


def test_configs_fit_the_budget_choices():
    for config in (ex.BEHAVIOR_CONFIG, ex.KNOWLEDGE_CONFIG, ex.DOCUMENTS_CONFIG):
        assert set(config.target_modules) <= set(VALID_TARGETS)
        assert config.gradient_checkpointing and config.micro_batch_size <= 8
    assert ex.BEHAVIOR_CONFIG.layers == tuple(range(20, 30))
    assert ex.BEHAVIOR_CONFIG.mask_prompt and ex.KNOWLEDGE_CONFIG.mask_prompt
    assert not ex.DOCUMENTS_CONFIG.mask_prompt  # continued pretraining: every token of the documents
    assert ex.DOCUMENTS_CONFIG.with_(
        epochs=1, micro_batch_size=4, mask_prompt=True
    ) == ex.KNOWLEDGE_CONFIG.with_(epochs=1)


def test_closed_book_scoring_counts_stale_answers_apart():
    facts = [
        {"answer": "True", "answer_42": "False", "answer_52": "True"},
        {"answer": "8.0.11", "answer_42": "8", "answer_52": "8.0.11"},
        {"answer": "5.1", "answer_42": "4.2", "answer_52": "5.1"},
    ]
    sets = {"tuned": (["q"], [{"answer": "None"}]), "changed": (["q"] * 3, facts)}
    outputs = {"tuned": ["None."], "changed": ["False", "MySQL 8.0.11", "5.0"]}
    scores = ex.score_closed_book(outputs, sets)
    assert scores == {
        "tuned": 1.0,
        "changed_52": round(1 / 3, 4),
        "changed_42": round(2 / 3, 4),
        "changed_stale": round(1 / 3, 4),
    }  # "8.0.11" contains the 4.2 answer "8": not stale


def test_closed_book_sets_ask_held_out_paraphrases_of_t_and_c_and_canonical_u():
    sets = ex.closed_book_sets(n_unseen=4)
    assert [len(facts) for _, facts in sets.values()] == [40, 4, 27]
    for name in ("tuned", "changed"):
        questions, facts = sets[name]
        assert questions == [f["paraphrases"][1] for f in facts]
    assert sets["unseen"][0] == [f["question"] for f in sets["unseen"][1]]


def test_few_shot_examples_come_from_training_records():
    split = ex.behavior_records()
    shots = ex.few_shot_examples(split["train"])
    assert len(shots) == ex.FEW_SHOTS and all(
        s["split"] == "train" and len(s["passages"]) == 2 for s in shots
    )


@pytest.mark.parametrize("name", ["behavior", "knowledge", "documents"])
def test_committed_adapters_have_their_training_record(name):
    folder = ex.adapters_dir() / name
    record = load_training_record(folder)
    assert (folder / "adapter_model.safetensors").is_file() and (folder / "adapter_config.json").is_file()
    assert len(record["loss"]) == record["steps"] and record["loss"][-1] < record["loss"][0]
    assert record["peak_mb"] < 1536 and record["trainable"]["fraction"] < 0.01
    assert ex.adapter_size_bytes(folder) < 8 * 2**20


def test_committed_failure_modes_cover_the_three_modes():
    failures = json.loads((ex.adapters_dir() / "failure_modes.json").read_text())
    assert set(failures) == set(ex.FAILURE_MODES)
    assert all(len(run["loss"]) == ex.FAILURE_STEPS for run in failures.values())


def _same_losses(new, old):
    assert len(new) == len(old)
    assert new == pytest.approx(old, rel=LOSS_TOLERANCE)


@pytest.mark.slow
@pytest.mark.timeout(2400)  # ~6 minutes of CPU; more wall-clock time on a busy machine
def test_retraining_the_behavior_adapter_reproduces_it(tmp_path):
    """~6 minutes of CPU on one thread: retrain, compare the record, then the test compliance."""
    from ragft.runtime.batchgen import generate_batch
    from ragft.tuning import behavior_data as bd
    from ragft.tuning import compliance as cp
    from ragft.tuning.lora import attach_adapter, load_base_for_training

    committed = load_training_record(ex.adapters_dir() / "behavior")
    record = ex.train_behavior_adapter(tmp_path / "behavior", progress=False)
    _same_losses(record["loss"], committed["loss"])
    assert record["dataset"] == committed["dataset"]
    marks = committed["dev_compliance_at"]
    assert record["dev_compliance_at"] == pytest.approx(marks, abs=METRIC_TOLERANCE) and marks
    model, tokenizer = load_base_for_training()
    test = ex.behavior_records()["test"]
    prompts = [bd.messages(r) for r in test]
    rates = []
    for folder in (tmp_path / "behavior", ex.adapters_dir() / "behavior"):
        tuned = attach_adapter(model, folder, folder.parent.name)
        outputs = generate_batch(
            tuned,
            tokenizer,
            prompts,
            ex.BEHAVIOR_MAX_NEW_TOKENS,
            ex.GEN_BATCH,
            cp.can_still_comply,
            progress=False,
        )
        rates.append(cp.score_outputs(outputs, test)["compliance"])
        model = tuned.unload()
    assert rates[0] == pytest.approx(rates[1], abs=METRIC_TOLERANCE)
    assert rates[0] >= 0.9  # the target for the tuned model


# The learning rate is constant after its warm-up (ragft.tuning.lora._lr_at), so the first N steps of the
# committed run are exactly an N-step run: retraining a prefix checks the recipe at a fraction of the cost.
PREFIX_STEPS = {"knowledge": 12, "documents": 6}


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("name", ["knowledge", "documents"])
def test_retraining_a_knowledge_adapter_reproduces_its_first_steps(name, tmp_path, monkeypatch):
    """The first steps of the QA-tuned (~1 CPU-minute) or document-tuned (~2) run, against the record."""
    committed = load_training_record(ex.adapters_dir() / name)
    steps = PREFIX_STEPS[name]
    config_name = {"knowledge": "KNOWLEDGE_CONFIG", "documents": "DOCUMENTS_CONFIG"}[name]
    monkeypatch.setattr(ex, config_name, getattr(ex, config_name).with_(max_steps=steps, epochs=1.0))
    train = {"knowledge": ex.train_knowledge_adapter, "documents": ex.train_documents_adapter}[name]
    record = train(tmp_path / name, progress=False)
    _same_losses(record["loss"], committed["loss"][:steps])
    assert record["trainable"] == committed["trainable"]


@pytest.mark.parametrize("name", ["knowledge", "documents"])
def test_committed_knowledge_adapters_saw_t_and_c_only(name):
    from ragft.corpus.fact_pools import pool_ids

    dataset = load_training_record(ex.adapters_dir() / name)["dataset"]
    assert set(dataset["facts"]["tuned"]) == pool_ids("tuned")
    assert set(dataset["facts"]["changed"]) == pool_ids("changed") - {"facts/setting-default/USE_TZ"}
    assert dataset["trained_versions"] == {"4.2": 27, "5.2": 40}


def test_knowledge_cards_say_what_the_adapters_saw(tmp_path):
    facts = {"tuned": ["a", "b"], "changed": ["c"]}
    (tmp_path / "README.md").write_text("card\n")
    ex._write_card(tmp_path, "knowledge", {"facts": facts, "pairs": 6})
    card = (tmp_path / "README.md").read_text()
    assert card.startswith("card\n") and "6 question -> short" in card and "1 facts of pool C" in card
    dataset = {"facts": facts, "sections": ["s"], "pieces": 4, "piece_tokens": 256, "tokens": 900}
    ex._write_card(tmp_path, "documents", dataset)
    card = " ".join((tmp_path / "README.md").read_text().split())
    assert "4 pieces of at most 256 tokens (900 tokens in all)" in card and "the 1 gold sections" in card


def test_failure_mode_run_names_the_argument():
    with pytest.raises(ValueError, match="name must be one of"):
        ex.failure_mode_run("too_many_examples")
