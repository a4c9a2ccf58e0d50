import json

from ragft.course.course_map import course_map, measured_cost, missing_files


def test_map_starts_at_00_lists_every_part_once_and_every_file_exists(repo_root):
    rows = course_map(repo_root)
    notebooks = [r["notebook"] for r in rows]
    assert len(notebooks) == len(set(notebooks)) and notebooks[0] == "notebooks/00_start_here.ipynb"
    assert notebooks == sorted(notebooks)
    assert missing_files(repo_root) == []
    assert all(r["cpu_seconds"] is not None and r["peak_mb"] for r in rows)  # every notebook was measured


def test_measured_cost_reads_the_header_and_missing_files_names_what_is_absent(tmp_path):
    header = (
        "# T\n<!-- measured -->**Measured** on 1 CPU thread: 41 s of CPU time top to bottom (budget 300 s), "
        "peak memory 420 MB in the kernel process (budget 1536 MB).<!-- /measured -->"
    )
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps({"cells": [{"cell_type": "markdown", "source": [header]}]}))
    assert measured_cost(path) == {"cpu_seconds": 41, "peak_mb": 420}
    path.write_text(json.dumps({"cells": [{"cell_type": "markdown", "source": ["# no header"]}]}))
    assert measured_cost(path) is None
    assert "notebooks/00_start_here.ipynb" in missing_files(tmp_path)
    assert course_map(tmp_path)[0]["cpu_seconds"] is None
