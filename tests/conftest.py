"""Shared test helpers: every test runs offline (the package sets the hub flags on import)."""

import os

import pytest

import ragft  # noqa: F401  (sets HF_HUB_OFFLINE before any model code runs)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def repo_root():
    from pathlib import Path

    return Path(REPO)
