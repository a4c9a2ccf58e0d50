"""ragft.labs.lab_chunking: the diagnostics name each misconception of a wrong chunker."""

from ragft.labs import lab_chunking as L
from ragft.retrieval.chunking import structure_chunks

ALL = ("shape", "trail", "code", "stuck", "overlap", "sizes", "empty", "unicode")


def good(text, trail, size=256, overlap=32):
    if not 0 <= overlap < size:
        raise ValueError(f"overlap must be in [0, {size}), got {overlap}")
    head = " > ".join(trail)
    return [head + "\n" + c.text for c in structure_chunks("s", text, "", size, overlap) if c.text.strip()]


def test_a_structure_chunker_passes_the_public_checks():
    assert L.diagnose(good) == []


def test_stub_is_still_to_fill_in():
    assert L.diagnose(lambda *a: None, ALL) == [
        "chunk_section is still to fill in: it returns None; return a list of strings."
    ]


def test_each_misconception_is_named():
    def no_trail(text, trail, size=256, overlap=32):
        return [c.split("\n", 1)[1] for c in good(text, trail, size, overlap)]

    def endless(text, trail, size=256, overlap=32):
        out, i = [], 0
        while i < len(text):
            out.append(" > ".join(trail) + "\n" + text[i : i + size])
            i += size - overlap
        return out

    assert any("Lost the heading trail" in m for m in L.diagnose(no_trail))
    messages = L.diagnose(endless, ALL)
    assert any("never moves forward" in m for m in messages)
    assert any("Split inside a code block" in m for m in L.diagnose(endless, ("shape", "code")))
