from ragft.runtime import paths


def test_cache_dir_override_is_created(monkeypatch, tmp_path):
    monkeypatch.setenv("RAGFT_CACHE_DIR", str(tmp_path / "c"))
    assert paths.cache_dir() == (tmp_path / "c").resolve()
    assert (tmp_path / "c").is_dir()


def test_cache_dir_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("RAGFT_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert paths.cache_dir() == (tmp_path / "ragft").resolve()


def test_data_dir_defaults_to_the_checkout(monkeypatch, repo_root):
    monkeypatch.delenv("RAGFT_DATA_DIR", raising=False)
    assert paths.data_dir() == repo_root / "data"
    monkeypatch.setenv("RAGFT_DATA_DIR", "/somewhere/else")
    assert str(paths.data_dir()) == "/somewhere/else"
