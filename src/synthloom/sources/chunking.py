"""Cutting a stream of lines into chunks that respect paragraphs and headings.

The input is an iterator of text lines (a reader streams them from the file), so
a large document is never held whole: memory stays around one chunk plus one
paragraph. Markdown-style headings (`# Title`, and `Title` underlined with
`===`/`---`) start sections; each chunk records the heading path in effect at
its start. Chunks are cut at paragraph boundaries where possible, then at
sentence boundaries, then at spaces; a size-driven cut repeats the tail of the
previous chunk (`overlap` characters, starting at a sentence or word boundary).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Iterator

CHARS_PER_TOKEN = 4

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_SETEXT = re.compile(r"^(=+|-+)\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+")


@dataclass(frozen=True, slots=True)
class Block:
    kind: str  # "heading" | "para"
    text: str
    level: int = 0  # heading level
    start: int = 0  # character offset in the document's text


def iter_blocks(lines: Iterable[str], max_block: int = 4000) -> Iterator[Block]:
    """Group lines into paragraphs and headings. Paragraphs longer than `max_block` are emitted in parts."""
    para: list[str] = []
    size = 0
    offset = 0  # offset of the next line
    para_start = 0

    def flush() -> Iterator[Block]:
        nonlocal para, size
        if para:
            text = "\n".join(para).strip()
            if text:
                yield Block("para", text, start=para_start)
        para, size = [], 0

    for raw in lines:
        line = raw.rstrip("\r\n")
        line_start = offset
        offset += len(raw) + (0 if raw.endswith("\n") else 1)
        stripped = line.strip()
        if not stripped:
            yield from flush()
            continue
        m = _HEADING.match(stripped)
        if m and len(stripped) <= 200:
            yield from flush()
            yield Block("heading", m.group(2).strip(), level=len(m.group(1)), start=line_start)
            continue
        if len(para) == 1 and _SETEXT.match(stripped) and len(para[0]) <= 200:
            title = para[0].strip()
            para, size = [], 0
            yield Block("heading", title, level=1 if stripped[0] == "=" else 2, start=para_start)
            continue
        if not para:
            para_start = line_start
        para.append(line)
        size += len(line) + 1
        if size >= max_block:
            yield from flush()
    yield from flush()


def split_long(text: str, limit: int) -> list[str]:
    """Split text longer than `limit` at sentence ends, else at spaces, else anywhere."""
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[: limit + 1]
        cut = -1
        for m in _SENTENCE_END.finditer(window):
            if m.end() <= limit and m.end() > limit // 3:
                cut = m.end()
        if cut < 0:
            cut = window.rfind(" ", limit // 3)
            cut = cut + 1 if cut > 0 else limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts


def overlap_tail(text: str, overlap: int) -> str:
    """The last ~`overlap` characters of text, starting at a sentence or word boundary."""
    if overlap <= 0 or not text:
        return ""
    if len(text) <= overlap:
        return text
    tail = text[-overlap:]
    m = _SENTENCE_END.search(tail)
    if m and m.end() < len(tail):
        return tail[m.end():]
    sp = tail.find(" ")
    return tail[sp + 1:] if 0 <= sp < len(tail) - 1 else tail


@dataclass(frozen=True, slots=True)
class RawChunk:
    index: int
    text: str
    heading_path: tuple[str, ...]
    start: int


def chunk_lines(
    lines: Iterable[str],
    *,
    size: int = 1500,
    overlap: int = 150,
    unit: str = "chars",
    respect_headings: bool = True,
    root_heading: str | None = None,
) -> Iterator[RawChunk]:
    """Chunks of at most `size` (chars, or tokens approximated as 4 chars) from a stream of lines."""
    if unit == "tokens":
        size, overlap = size * CHARS_PER_TOKEN, overlap * CHARS_PER_TOKEN
    if overlap >= size:
        raise ValueError(f"overlap ({overlap}) must be smaller than size ({size})")
    min_section = size // 4
    path: list[tuple[int, str]] = [(0, root_heading)] if root_heading else []
    parts: list[str] = []
    length = 0
    carried = False  # parts holds only the overlap carried from the previous chunk
    chunk_path: tuple[str, ...] = tuple(t for _, t in path)
    chunk_start = 0
    index = 0

    def emit(carry: bool) -> Iterator[RawChunk]:
        nonlocal parts, length, index, carried
        text = "\n\n".join(parts).strip()
        parts, length, carried = [], 0, False
        if not text:
            return
        yield RawChunk(index, text, chunk_path, chunk_start)
        index += 1
        if carry and overlap:
            tail = overlap_tail(text, overlap)
            if tail:
                parts, length, carried = [tail], len(tail), True

    def begin(start: int) -> None:
        nonlocal chunk_path, chunk_start
        chunk_path, chunk_start = tuple(t for _, t in path), start

    # paragraphs are cut so that a piece plus the carried overlap fits in one chunk
    body = max(size - overlap - 2, 1)
    for block in iter_blocks(lines, max_block=body):
        if block.kind == "heading":
            if carried:  # a new section does not start with the previous section's tail
                parts, length, carried = [], 0, False
            elif respect_headings and length >= min_section:
                yield from emit(carry=False)
            if not (root_heading and len(path) == 1 and block.text.casefold() == root_heading.casefold()):
                while path and path[-1][0] >= block.level and path[-1][0] > 0:
                    path.pop()
                path.append((block.level, block.text))
            line = "#" * block.level + " " + block.text
            if not parts:
                begin(block.start)
            elif length + len(line) + 2 > size:
                yield from emit(carry=False)
                begin(block.start)
            parts.append(line)
            length += len(line) + 2
            continue
        pos = 0
        for piece in split_long(block.text, body):
            found = block.text.find(piece[:40], pos)
            pos = found if found >= 0 else pos
            if parts and not carried and length + len(piece) + 2 > size:
                yield from emit(carry=True)
            if not parts or carried:
                begin(block.start + pos)
            parts.append(piece)
            length += len(piece) + 2
            carried = False
    if parts and not carried:
        yield from emit(carry=False)
