"""Split a reStructuredText file into leaf sections, line by line (no docutils: fast, predictable).

A section is one heading plus its body up to the next heading of any level, so code blocks and
tables (always indented or bordered, never at a heading's position) are never split.
"""

from __future__ import annotations

import re

# One punctuation character repeated, nothing else (simple-table borders have spaces: not matched).
_ADORNMENT = re.compile(r"([!-/:-@\[-`{-~])\1+[ \t]*")
# An internal reST label such as `.. _ref-settings:` (not an external `.. _name: https://...` target).
_LABEL = re.compile(r"\.\. _(?P<name>[^:`]+|`[^`]+`):[ \t]*")
# Directives written just before a heading that name the section below it (Sphinx targets).
_TARGET_DIRECTIVE = re.compile(
    r"\.\. (?:setting|fieldlookup|templatetag|templatefilter|module|currentmodule)::"
)
_NON_SLUG = re.compile(r"[\W_]+")
_INLINE = re.compile(
    r"``(?P<literal>.+?)``"
    r"|:(?P<role>[\w.+-]+(?::[\w.+-]+)*):`(?P<content>[^`]*)`"
    r"|`(?P<link>[^`<]*?)\s*<[^<>`]*>`__?"
    r"|`(?P<ref>[^`]+)`(?:__?)?"
    r"|\*\*(?P<strong>\S(?:[^*]*?\S)?)\*\*"
    r"|(?<![\w*])\*(?P<emphasis>\S(?:[^*]*?\S)?)\*(?![\w*])"
    r"|\\(?P<escaped>.)",
    re.DOTALL,
)
_TARGET = re.compile(r"(?P<text>.*?)\s*<(?P<target>[^<>]*)>", re.DOTALL)


def _inline(match: re.Match) -> str:
    groups = match.groupdict()
    if groups["content"] is not None:
        target = _TARGET.fullmatch(groups["content"])
        if target:  # :role:`shown text <target>`, or :role:`<target>`
            return target["text"] or target["target"]
        return groups["content"].lstrip("~!")
    for name in ("literal", "link", "ref", "strong", "emphasis"):
        if groups[name] is not None:
            return groups[name]
    return "" if groups["escaped"].isspace() else groups["escaped"]


def clean_markup(text: str) -> str:
    """Plain text of inline reST (``x``, :role:`x <y>`, `link <url>`_, **x**, escapes), on one line."""
    return re.sub(r"\s+", " ", _INLINE.sub(_inline, text)).strip()


def slugify(title: str) -> str:
    """Lowercase a title and turn every run of non-alphanumerics into one "-" (ids must be readable)."""
    return _NON_SLUG.sub("-", title.lower()).strip("-") or "section"


def _is_adornment(line: str) -> bool:
    return bool(_ADORNMENT.fullmatch(line))


def _is_title_text(line: str) -> bool:
    return bool(line.strip()) and not line[0].isspace() and not _is_adornment(line)


def _find_headings(lines: list[str]) -> list[tuple[int, int, str, tuple[str, bool]]]:
    """Return (first line, line after the heading, title, adornment style) for every heading."""
    headings = []
    i, n = 0, len(lines)
    while i < n - 1:
        prev_blank = i == 0 or not lines[i - 1].strip()
        line = lines[i]
        if prev_blank and _is_adornment(line) and i + 2 < n and _is_title_text(lines[i + 1].lstrip()):
            over, title, under = line.rstrip(), lines[i + 1].rstrip(), lines[i + 2].rstrip()
            if under == over and len(over) >= len(title):  # an overlined title may be inset
                headings.append((i, i + 3, title.strip(), (over[0], True)))
                i += 3
                continue
        if prev_blank and _is_title_text(line):
            title, under = line.rstrip(), lines[i + 1].rstrip()
            if _is_adornment(under) and len(under) >= len(title):
                headings.append((i, i + 2, title, (under[0], False)))
                i += 2
                continue
        i += 1
    return headings


def _preamble_start(lines: list[str], start: int, floor: int) -> int:
    """First line of the labels and target directives written directly above a heading at `start`."""
    first = start
    j = start - 1
    while j >= floor:
        line = lines[j]
        if not line.strip():
            j -= 1
            continue
        if _LABEL.fullmatch(line) or _TARGET_DIRECTIVE.match(line):
            first = j
            j -= 1
            continue
        if line[0].isspace() and line.strip().startswith(":"):  # an option line such as `:synopsis:`
            k = j
            while k >= floor and lines[k][:1].isspace() and lines[k].strip().startswith(":"):
                k -= 1
            if k >= floor and _TARGET_DIRECTIVE.match(lines[k]):
                first = k
                j = k - 1
                continue
        break
    return first


def _split_preamble(block: list[str]) -> tuple[list[str], list[str]]:
    """Separate label names (anchors) from the other preamble lines (kept in the section text)."""
    anchors, kept = [], []
    for line in block:
        match = _LABEL.fullmatch(line)
        if match:
            anchors.append(match.group("name").strip("`"))
        elif line.strip() or (kept and kept[-1].strip()):  # one blank line between kept blocks
            kept.append(line)
    return anchors, kept


def _strip_blank_edges(lines: list[str]) -> str:
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return "\n".join(lines[start:end])


def parse_sections(text: str, path: str, version: str) -> list[dict]:
    """Split one reST file (`path` relative to docs/) into leaf sections with stable ids and trails.

    Titles are kept raw; ids use the first label above a heading, else the slug of its rendered title.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    headings = _find_headings(lines)
    stem = path[:-4] if path.endswith(".txt") else path
    raw: list[tuple[list[str], str, list[str], str]] = []  # (trail, title, anchors, text)

    starts = []
    floor = 0
    for first, after, _title, _style in headings:
        starts.append(_preamble_start(lines, first, floor))
        floor = after
    first_start = starts[0] if starts else len(lines)
    intro = _strip_blank_edges(lines[:first_start])
    if intro:
        raw.append(([path], path, [], intro))

    levels: dict[tuple[str, bool], int] = {}
    trail: list[str] = []
    for k, (first, after, title, style) in enumerate(headings):
        level = levels.setdefault(style, len(levels))
        trail = trail[:level] + [title]
        anchors, kept = _split_preamble(lines[starts[k] : first])
        body_end = starts[k + 1] if k + 1 < len(headings) else len(lines)
        parts = (_strip_blank_edges(kept), _strip_blank_edges(lines[after:body_end]))
        raw.append((list(trail), title, anchors, "\n\n".join(part for part in parts if part)))

    sections, used = [], set()
    for order, (sec_trail, title, anchors, body) in enumerate(raw):
        base = anchors[0] if anchors else slugify(clean_markup(title))
        slug, n = base, 1
        while slug in used:
            n += 1
            slug = f"{base}-{n}"
        used.add(slug)
        sections.append(
            {
                "id": f"{version}/{stem}#{slug}",
                "version": version,
                "path": path,
                "trail": sec_trail,
                "title": title,
                "anchors": anchors,
                "text": body,
                "order": order,
            }
        )
    return sections
