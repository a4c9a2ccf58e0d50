from ragft.corpus.version_diff import diff_versions, version_key


def _s(version, key, text):
    return {"id": f"{version}/{key}", "text": text}


def test_diff_sorts_sections_into_four_groups():
    old = [_s("4.2", "a#x", "same"), _s("4.2", "a#y", "old text"), _s("4.2", "a#gone", "t")]
    new = [_s("5.2", "a#x", "same"), _s("5.2", "a#y", "new text"), _s("5.2", "a#new", "t")]
    assert diff_versions(old, new) == {
        "added": ["a#new"],
        "removed": ["a#gone"],
        "changed": ["a#y"],
        "unchanged": ["a#x"],
    }


def test_version_key():
    assert version_key("5.2/ref/settings#debug") == "ref/settings#debug"
