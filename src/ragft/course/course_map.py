"""The map of the course (notebooks and labs), read from course_map.json beside this module."""

from __future__ import annotations

import json
from pathlib import Path

from ragft.runtime.paths import repo_root

_MAP_FILE = Path(__file__).with_name("course_map.json")


def course_map(root: Path | None = None) -> list[dict]:
    """Each part of the course with its notebook and lab, and whether each is in this checkout yet."""
    root = root or repo_root()
    rows = []
    for entry in json.loads(_MAP_FILE.read_text()):
        row = dict(entry)
        row["notebook_ready"] = (root / entry["notebook"]).is_file()
        row["lab_ready"] = None if entry["lab"] is None else (root / entry["lab"]).is_file()
        rows.append(row)
    return rows
