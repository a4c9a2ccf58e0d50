"""Shared test helpers: every test runs offline (the package sets the hub flags on import).

The suite runs in a random order (pytest-randomly; the seed is printed in the header, and
`--randomly-seed=N` replays an order). A notebook's cells are the exception: they share one
kernel and must run top to bottom, so they are put back in order after the shuffle.
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


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config, items):
    """After any shuffle, each notebook's cells run contiguously and in their own order."""
    result = yield
    cells: dict[object, list] = {}
    for item in items:
        if hasattr(item, "cell_num"):  # an nbval cell
            cells.setdefault(item.parent, []).append(item)
    if cells:
        ordered, placed = [], set()
        for item in items:
            notebook = item.parent if hasattr(item, "cell_num") else None
            if notebook is None:
                ordered.append(item)
            elif notebook not in placed:
                placed.add(notebook)
                ordered.extend(sorted(cells[notebook], key=lambda cell: cell.cell_num))
        items[:] = ordered
    return result
