"""The map of the course (notebooks and labs), read from course_map.json beside this module, with each
notebook's measured cost taken from its own header (written by `python -m ragft notebook run`)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ragft.runtime.paths import repo_root

_MAP_FILE = Path(__file__).with_name("course_map.json")
_MEASURED = re.compile(
    r"<!-- measured -->.*?(?P<cpu>\d+) s of CPU time.*?peak memory (?P<mb>\d+) MB.*?<!-- /measured -->", re.S
)


def measured_cost(notebook: Path) -> dict | None:
    """{"cpu_seconds", "peak_mb"} from a notebook's measured header, or None when it has none."""
    cells = json.loads(Path(notebook).read_text())["cells"]
    match = _MEASURED.search("".join(cells[0]["source"])) if cells else None
    return {"cpu_seconds": int(match["cpu"]), "peak_mb": int(match["mb"])} if match else None


def course_map(root: Path | None = None) -> list[dict]:
    """Each part of the course, in order: its notebook, its lab (or None), its topic, and the notebook's
    measured CPU seconds and peak memory (None where the notebook is not there)."""
    root = root or repo_root()
    rows = []
    for entry in json.loads(_MAP_FILE.read_text()):
        path = root / entry["notebook"]
        cost = measured_cost(path) if path.is_file() else None
        rows.append({**entry, **(cost or {"cpu_seconds": None, "peak_mb": None})})
    return rows


def missing_files(root: Path | None = None) -> list[str]:
    """Notebooks and labs the map names that are not in the repository (the map must not promise them)."""
    root = root or repo_root()
    paths = [p for entry in course_map(root) for p in (entry["notebook"], entry["lab"]) if p is not None]
    return [p for p in paths if not (root / p).is_file()]
