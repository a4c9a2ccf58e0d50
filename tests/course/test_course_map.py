from ragft.course.course_map import course_map


def test_map_lists_notebook_00_as_ready_and_every_part_once(repo_root):
    rows = course_map(repo_root)
    notebooks = [r["notebook"] for r in rows]
    assert len(notebooks) == len(set(notebooks))
    assert rows[0]["notebook"] == "notebooks/00_start_here.ipynb" and rows[0]["notebook_ready"]


def test_readiness_follows_the_files(tmp_path):
    rows = course_map(tmp_path)  # an empty checkout: nothing is ready
    assert not any(r["notebook_ready"] for r in rows)
    assert all(r["lab_ready"] in (None, False) for r in rows)
