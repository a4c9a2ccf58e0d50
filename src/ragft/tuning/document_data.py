"""The document-tuned adapter's data: the manual's sections that state the knowledge facts, as plain text.

Continued pretraining, the setting practitioners try first (Ovadia et al. 2024, "Fine-Tuning or
Retrieval?"): no questions, only the language-model loss over the documents the answers come from. For
each fact of `knowledge_data.knowledge_facts()` the gold sections of the manual it is tuned with (T: 5.2,
or 4.2 where only 4.2 states it; C: 4.2, the old text), each cut into pieces of at most PIECE_TOKENS tokens.
"""

from __future__ import annotations

PIECE_TOKENS = 256


def gold_section_ids(facts: list[dict]) -> list[str]:
    """The gold sections of the facts in the manual each was tuned with, without repeats, in fact order."""
    ids: list[str] = []
    for fact in facts:
        gold = fact["gold_42"] if fact["trained_version"] == "4.2" else fact["gold_52"]
        gold = gold or fact["gold_42"] or fact["gold_52"]
        ids += [g for g in gold if g not in ids]
    return ids


def sections_by_id(ids: list[str]) -> list[dict]:
    """The sections (id, trail, text) with these ids, from the 4.2 and 5.2 corpora, in the given order."""
    from ragft.corpus.data import load_corpus

    wanted = set(ids)
    found = {}
    for version in sorted({i.split("/", 1)[0] for i in ids}):
        found |= {s["id"]: s for s in load_corpus(version) if s["id"] in wanted}
    missing = [i for i in ids if i not in found]
    if missing:
        raise ValueError(f"ids must name sections of the 4.2 or 5.2 corpus; not found: {missing[:5]}")
    return [found[i] for i in ids]


def section_text(section: dict) -> str:
    """A section as a document: its heading trail (page > ... > section), a blank line, its body."""
    return " > ".join(section["trail"]) + "\n\n" + section["text"].strip()


def split_text(tokenizer, text: str, max_tokens: int = PIECE_TOKENS) -> list[str]:
    """Cut a text into pieces of at most max_tokens tokens: whole lines packed greedily, a line longer than
    max_tokens cut by tokens."""
    if max_tokens < 8:
        raise ValueError(f"max_tokens must be >= 8, got {max_tokens}")

    def count(s: str) -> int:
        return len(tokenizer(s, add_special_tokens=False)["input_ids"])

    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        candidate = line if not current else current + "\n" + line
        if count(candidate) <= max_tokens:
            current = candidate
            continue
        if current.strip():
            pieces.append(current)
        ids = tokenizer(line, add_special_tokens=False)["input_ids"]
        while len(ids) > max_tokens:  # one line longer than a piece
            pieces.append(tokenizer.decode(ids[:max_tokens]))
            ids = ids[max_tokens:]
        current = tokenizer.decode(ids)
    if current.strip():
        pieces.append(current)
    return pieces


def document_pieces(tokenizer, sections: list[dict], max_tokens: int = PIECE_TOKENS) -> list[str]:
    """Every section as text (section_text), cut into pieces of at most max_tokens tokens."""
    return [piece for s in sections for piece in split_text(tokenizer, section_text(s), max_tokens)]


def training_documents(tokenizer, facts: list[dict], max_tokens: int = PIECE_TOKENS) -> list[str]:
    """The pieces the document adapter is trained on: the facts' gold sections, cut to size."""
    return document_pieces(tokenizer, sections_by_id(gold_section_ids(facts)), max_tokens)


def document_pairs(pieces: list[str]) -> list[tuple[list[dict], str]]:
    """(prompt, target) pairs for train_lora: an empty prompt (plain text, no chat template) and the piece."""
    return [([], piece) for piece in pieces]
