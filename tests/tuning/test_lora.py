"""The LoRA loop on a tiny random Llama (fast): masking, padding, the loss, determinism, save/load/merge."""

import json
import warnings

import pytest
import torch
from tiny_llama import tiny_model

from ragft.tuning import lora

PROMPT = [{"role": "user", "content": "Say hi"}]
EXAMPLES = [
    ([{"role": "user", "content": f"Say {w}"}], f'{{"word": "{w}"}}') for w in ("hi", "yo", "ok", "no")
]
CONFIG = lora.LoraTrainConfig(
    rank=4,
    alpha=8,
    learning_rate=5e-2,
    max_steps=12,
    batch_size=4,
    micro_batch_size=2,
    warmup_steps=1,
    gradient_checkpointing=False,
)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"rank": 0}, "rank must be between 1 and 256, got 0"),
        ({"rank": ...}, "rank must be a number, got Ellipsis"),
        ({"mask_prompt": ...}, "mask_prompt and gradient_checkpointing must be True or False"),
        ({"target_modules": "q_proj"}, "target_modules must be a tuple of module names"),
        ({"max_steps": 2.5}, "max_steps must be a whole number or None, got 2.5"),
        ({"alpha": 0}, "alpha must be in"),
        ({"target_modules": ("attn",)}, "target_modules must be a non-empty subset of"),
        ({"learning_rate": 0}, "learning_rate must be in"),
        ({"epochs": 0}, "epochs must be in"),
        ({"max_steps": 0}, "max_steps must be >= 1 or None, got 0"),
        ({"micro_batch_size": 3}, "must be a multiple of micro_batch_size"),
        ({"micro_batch_size": 8}, "micro_batch_size between 1 and batch_size"),
        ({"max_length": 8}, "max_length must be >= 16, got 8"),
    ],
)
def test_config_names_the_bad_argument(changes, message):
    with pytest.raises(ValueError, match=message):
        CONFIG.with_(**changes)


def test_config_round_trips_through_a_dict():
    config = CONFIG.with_(layers=(0, 1))
    assert lora.LoraTrainConfig.from_dict(config.as_dict()) == config


def test_encode_masks_the_prompt_and_ends_with_the_end_of_turn(tokenizer):
    masked = lora.encode_example(tokenizer, PROMPT, "hi")
    plain = lora.encode_example(tokenizer, PROMPT, "hi", mask_prompt=False)
    n_target = len(tokenizer("hi" + tokenizer.eos_token, add_special_tokens=False)["input_ids"])
    assert masked["input_ids"] == plain["input_ids"]
    assert masked["labels"][:-n_target] == [lora.IGNORE_INDEX] * (len(masked["input_ids"]) - n_target)
    assert masked["labels"][-n_target:] == masked["input_ids"][-n_target:]
    assert masked["input_ids"][-1] == tokenizer.eos_token_id
    assert plain["labels"] == plain["input_ids"]
    with pytest.raises(ValueError, match="more than max_length=16"):
        lora.encode_example(tokenizer, PROMPT, "hi", max_length=16)


def test_an_empty_prompt_encodes_plain_text_with_every_token_labelled(tokenizer):
    text = "Defaults to True."
    ids = tokenizer(text + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
    for mask_prompt in (True, False):
        encoded = lora.encode_example(tokenizer, [], text, mask_prompt=mask_prompt)
        assert encoded == {"input_ids": ids, "labels": ids}  # no chat template, nothing masked


def test_collate_pads_right_for_training_and_left_for_generation():
    a, b = {"input_ids": [5, 6, 7], "labels": [-100, 6, 7]}, {"input_ids": [8], "labels": [8]}
    right = lora.collate([a, b], pad_id=0)
    assert right["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert right["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert right["labels"].tolist() == [[-100, 6, 7], [8, -100, -100]]
    left = lora.collate([a, b], pad_id=0, padding_side="left")
    assert left["input_ids"].tolist()[1] == [0, 0, 8]
    with pytest.raises(ValueError, match="padding_side must be one of"):
        lora.collate([a], pad_id=0, padding_side="middle")


def test_label_loss_equals_the_models_own_loss(tokenizer):
    model = tiny_model(tokenizer)
    batch = lora.collate(
        [lora.encode_example(tokenizer, p, t) for p, t in EXAMPLES[:2]], tokenizer.pad_token_id
    )
    with torch.no_grad():
        ours = lora.label_loss(model, batch)
        theirs = model(**batch).loss
    assert torch.allclose(ours, theirs, atol=1e-5)


def test_training_lowers_the_loss_and_repeats_exactly(tokenizer):
    runs = []
    for _ in range(2):
        model = lora.make_lora_model(tiny_model(tokenizer), CONFIG)
        history = lora.train_lora(
            model, tokenizer, EXAMPLES, CONFIG, dev_examples=EXAMPLES, eval_every=6, progress=False
        )
        runs.append(history)
    first, second = runs
    assert first["loss"] == second["loss"]  # seeded, one thread: identical
    assert first["loss"][-1] < first["loss"][0] - 0.1  # a random tiny model learns slowly, but it learns
    assert [s for s, _ in first["dev_loss"]] == [0, 6, 12]
    assert first["dev_loss"][-1][1] < first["dev_loss"][0][1]
    assert len(first["loss"]) == first["steps"] == 12 and first["seconds_per_step"] > 0


def test_only_lora_parameters_train_and_layers_can_be_restricted(tokenizer):
    model = lora.make_lora_model(tiny_model(tokenizer), CONFIG.with_(layers=(1,)))
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    assert names and all("lora_" in n and ".layers.1." in n for n in names)
    counts = lora.trainable_parameters(model)
    assert 0 < counts["fraction"] < 0.05 and counts["trainable"] == sum(
        p.numel() for n, p in model.named_parameters() if "lora_" in n
    )


def test_planned_steps():
    assert lora.planned_steps(10, CONFIG.with_(max_steps=None, epochs=1)) == 3
    assert lora.planned_steps(10, CONFIG.with_(max_steps=2)) == 2
    assert lora.planned_steps(10, CONFIG.with_(max_steps=7, epochs=1)) == 7  # the data repeats
    with pytest.raises(ValueError, match="at least one training example"):
        lora.planned_steps(0, CONFIG)


def test_save_attach_and_merge_give_the_same_model(tokenizer, tmp_path):
    model = lora.make_lora_model(tiny_model(tokenizer), CONFIG.with_(max_steps=4))
    lora.train_lora(model, tokenizer, EXAMPLES, CONFIG.with_(max_steps=4), progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "could not find a config file" from a look-up on the hub
        saved = lora.save_adapter(model, tmp_path / "a", {"note": 1})
    assert saved["adapter_bytes"] == lora.adapter_size_bytes(tmp_path / "a") > 0
    assert lora.load_training_record(tmp_path / "a") == {"note": 1}
    config = json.loads((tmp_path / "a" / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == lora.BASE_MODEL_ID  # not this machine's cache folder
    card = (tmp_path / "a" / "README.md").read_text()
    assert f"base_model: {lora.BASE_MODEL_ID}" in card and "Model Card for Model ID" not in card
    batch = lora.collate([lora.encode_example(tokenizer, *EXAMPLES[0])], tokenizer.pad_token_id)
    inputs = {k: batch[k] for k in ("input_ids", "attention_mask")}
    with torch.no_grad():
        expected = model(**inputs).logits
        reloaded = lora.attach_adapter(tiny_model(tokenizer), tmp_path / "a", "a").eval()
        assert torch.allclose(reloaded(**inputs).logits, expected, atol=1e-5)
        with reloaded.disable_adapter():
            assert not torch.allclose(reloaded(**inputs).logits, expected, atol=1e-5)
        merged = lora.merge_adapter(reloaded)
        assert not hasattr(merged, "peft_config")
        assert torch.allclose(merged(**inputs).logits, expected, atol=1e-4)
    with pytest.raises(FileNotFoundError, match="holds no adapter"):
        lora.attach_adapter(tiny_model(tokenizer), tmp_path / "missing", "x")
