"""Committed experiment records (data/experiments/NAME.json): where they live, how they are written (sorted
keys, so two equal runs give equal bytes) and read (a missing one names the command that makes it)."""

from __future__ import annotations

import json
from pathlib import Path


def record_path(name: str) -> Path:
    """data/experiments/<name>.json."""
    from ragft.runtime.paths import data_dir

    return data_dir() / "experiments" / f"{name}.json"


def save_record(report: dict, path: Path) -> None:
    """Write a report as a committed record, keys sorted."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def load_record(path: Path, command: str) -> dict:
    """A committed record; FileNotFoundError naming `command`, which makes it, when it is missing."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; make it with `{command}`")
    return json.loads(path.read_text())
