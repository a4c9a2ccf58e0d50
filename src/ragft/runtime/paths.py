"""Where the course keeps its committed data and its (never committed) caches."""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def repo_root() -> Path:
    """The checkout that holds data/: found by walking up from the package (editable install)."""
    for parent in _PACKAGE_DIR.parents:
        if (parent / "pyproject.toml").is_file() and (parent / "data").is_dir():
            return parent
    raise FileNotFoundError(
        "Could not find the course checkout (a folder with pyproject.toml and data/) above "
        f"{_PACKAGE_DIR}. Install the package in editable mode from the checkout "
        "(`pip install -e .`) or set RAGFT_DATA_DIR to the data/ folder."
    )


def data_dir() -> Path:
    """The committed data folder; RAGFT_DATA_DIR overrides it (tests use that)."""
    override = os.environ.get("RAGFT_DATA_DIR")
    return Path(override).expanduser().resolve() if override else repo_root() / "data"


def cache_dir() -> Path:
    """Where converted models, sdists and embeddings are cached; RAGFT_CACHE_DIR overrides it."""
    override = os.environ.get("RAGFT_CACHE_DIR")
    if override:
        path = Path(override).expanduser()
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        path = Path(base) / "ragft"
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()
