"""The map of the course (notebooks and labs), read from course_map.json beside this module."""

from __future__ import annotations

import json
from pathlib import Path

from ragft.runtime.paths import repo_root

_MAP_FILE = Path(__file__).with_name("course_map.json")


def course_map() -> list[dict]:
    """Each part of the course, in order: its notebook, its lab (or None) and its topic."""
    return [dict(entry) for entry in json.loads(_MAP_FILE.read_text())]


def missing_files(root: Path | None = None) -> list[str]:
    """Notebooks and labs the map names that are not in the repository (the map must not promise them)."""
    root = root or repo_root()
    paths = [p for entry in course_map() for p in (entry["notebook"], entry["lab"]) if p is not None]
    return [p for p in paths if not (root / p).is_file()]
