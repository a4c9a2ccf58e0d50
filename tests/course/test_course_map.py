from ragft.course.course_map import course_map, missing_files


def test_map_starts_at_00_lists_every_part_once_and_every_file_exists(repo_root):
    rows = course_map()
    notebooks = [r["notebook"] for r in rows]
    assert len(notebooks) == len(set(notebooks)) and notebooks[0] == "notebooks/00_start_here.ipynb"
    assert notebooks == sorted(notebooks)
    assert missing_files(repo_root) == []


def test_missing_files_names_what_is_absent(tmp_path):
    assert "notebooks/00_start_here.ipynb" in missing_files(tmp_path)
