"""Shared test helpers: every test runs offline (the package sets the hub flags on import).

The suite runs in a random order (pytest-randomly; the seed is printed in the header, and
`--randomly-seed=N` replays an order); ../conftest.py keeps each notebook's cells in order.
"""

import os

import pytest

import ragft  # noqa: F401  (sets HF_HUB_OFFLINE before any model code runs)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="session")
def tokenizer():
    """SmolLM2's tokenizer (from the converted generator in the cache), for the tiny-model tests."""
    from transformers import AutoTokenizer

    from ragft.runtime.models import convert_generator

    return AutoTokenizer.from_pretrained(str(convert_generator()))


@pytest.fixture
def repo_root():
    from pathlib import Path

    return Path(REPO)
