"""What changed between two versions of the manual: the concrete form of "knowledge that changes"."""

from __future__ import annotations


def version_key(section_id: str) -> str:
    """A section id without its version prefix ("5.2/ref/settings#debug" -> "ref/settings#debug")."""
    return section_id.split("/", 1)[1] if "/" in section_id else section_id


def diff_versions(old: list[dict], new: list[dict]) -> dict[str, list[str]]:
    """Sections added, removed, changed and unchanged from old to new, as version-free keys (sorted)."""
    old_text = {version_key(s["id"]): s["text"] for s in old}
    new_text = {version_key(s["id"]): s["text"] for s in new}
    shared = old_text.keys() & new_text.keys()
    return {
        "added": sorted(new_text.keys() - old_text.keys()),
        "removed": sorted(old_text.keys() - new_text.keys()),
        "changed": sorted(k for k in shared if old_text[k] != new_text[k]),
        "unchanged": sorted(k for k in shared if old_text[k] == new_text[k]),
    }
