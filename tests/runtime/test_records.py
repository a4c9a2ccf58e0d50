"""ragft.runtime.records: committed records are written with sorted keys and read back, or named missing."""

import pytest

from ragft.runtime import records


def test_a_record_round_trips_with_sorted_keys(tmp_path):
    path = tmp_path / "sub" / "r.json"
    records.save_record({"b": 1, "a": [1, 2]}, path)
    assert path.read_text().index('"a"') < path.read_text().index('"b"')
    assert records.load_record(path, "make it") == {"a": [1, 2], "b": 1}


def test_a_missing_record_names_the_command_that_makes_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="make it with `python -m ragft experiment x --save`"):
        records.load_record(tmp_path / "none.json", "python -m ragft experiment x --save")


def test_record_paths_are_under_data_experiments():
    assert records.record_path("hybrid").parts[-2:] == ("experiments", "hybrid.json")
