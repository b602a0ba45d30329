"""Readers: one function per file type, each yielding documents as streams of lines.

A reader yields `TextDoc`s (one per file, or one per row of a .json/.jsonl file).
`lines` is an iterator, so plain-text formats are streamed from disk. HTML, PDF
and DOCX are parsed by their libraries (imported inside the reader; a missing one
names the extra to install) and their text is streamed out page by page or
paragraph by paragraph. A problem with one file raises `Unreadable`, which the
caller records in its `skipped` list; a problem with one row of a .jsonl file is
reported through `on_skip` and the other rows are kept.
"""
from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from ..errors import require

SNIFF_BYTES = 8192
READ_PIECE = 1 << 16  # longest line handed on at once; longer lines are split at a space


class Unreadable(Exception):
    """This file cannot be used; the message says why."""


@dataclass
class TextDoc:
    key: str | None  # distinguishes rows of one file (None for one-document files)
    title: str | None
    lines: Iterable[str]


OnSkip = Callable[[str, str], None]  # (name, reason)


# ---------------------------------------------------------------- plain text


def sniff_encoding(path: Path) -> str:
    """utf-8 unless the first bytes say otherwise; binary files raise Unreadable."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except OSError as exc:
        raise Unreadable(f"cannot be read: {exc.strerror or exc}") from exc
    if not head.strip():
        raise Unreadable("empty file (no text)")
    if b"\x00" in head:
        raise Unreadable("binary file (contains NUL bytes); not a text document")
    try:
        head[:-4].decode("utf-8")  # a multi-byte character may be cut at the end
        return "utf-8-sig"
    except UnicodeDecodeError:
        pass
    controls = sum(1 for b in head if b < 9 or 13 < b < 32)
    if controls > len(head) // 20:
        raise Unreadable("binary file (not valid text in any common encoding)")
    return "cp1252"


def stream_lines(path: Path, encoding: str) -> Iterator[str]:
    """Lines of a text file, reading at most READ_PIECE characters at a time."""
    with open(path, encoding=encoding, errors="replace", newline=None) as fh:
        pending = ""
        while True:
            piece = fh.read(READ_PIECE)
            if not piece:
                break
            pending += piece
            lines = pending.split("\n")
            pending = lines.pop()
            yield from lines
            if len(pending) > READ_PIECE:  # one very long line: hand it on in parts cut at spaces
                cut = pending.rfind(" ", 0, READ_PIECE)
                cut = cut if cut > 0 else READ_PIECE
                yield pending[:cut]
                pending = pending[cut:].lstrip(" ")
        if pending:
            yield pending


def read_text(path: Path) -> Iterator[TextDoc]:
    yield TextDoc(None, None, stream_lines(path, sniff_encoding(path)))


# ---------------------------------------------------------------- HTML

_BLOCK_TAGS = {
    "p", "div", "section", "article", "main", "header", "footer", "aside", "nav", "ul", "ol",
    "table", "blockquote", "pre", "dl", "figure", "figcaption", "address", "form",
    "fieldset", "details", "summary", "hr", "caption", "body",
}
_LINE_TAGS = {"li", "tr", "dt", "dd"}  # one line each, no blank line between them
_CELL_TAGS = {"td", "th"}
_DROP_TAGS = ["script", "style", "noscript", "template", "svg", "iframe", "object", "embed", "canvas", "head"]
_WS = re.compile(r"[ \t\r\n\f\v]+")


def html_to_lines(html: str) -> tuple[str | None, list[str]]:
    """Visible text of an HTML page as lines; headings become `# ...` lines. Scripts and styles are dropped."""
    lexbor = require("selectolax.lexbor", "docs", "reading .html documents")
    tree = lexbor.LexborHTMLParser(html)
    title_node = tree.css_first("title")
    title = _WS.sub(" ", title_node.text()).strip() if title_node is not None else None
    tree.strip_tags(_DROP_TAGS)
    root = tree.body or tree.root
    if root is None:
        return title or None, []
    out: list[str] = []
    stack: list[tuple[object, bool]] = [(root, False)]
    while stack:
        node, closing = stack.pop()
        tag = node.tag  # type: ignore[attr-defined]
        if closing:
            out.append("\n\n" if tag in _BLOCK_TAGS else "\n" if tag in _LINE_TAGS else " | ")
            continue
        if node.is_text_node:  # type: ignore[attr-defined]
            out.append(_WS.sub(" ", node.text_content or ""))  # type: ignore[attr-defined]
            continue
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            text = _WS.sub(" ", node.text(deep=True)).strip()  # type: ignore[attr-defined]
            if text:
                out.append(f"\n\n{'#' * int(tag[1])} {text}\n\n")
            continue
        if tag == "br":
            out.append("\n")
            continue
        if tag in _BLOCK_TAGS:
            out.append("\n\n")
        elif tag in _LINE_TAGS:
            out.append("\n")
        if tag in _BLOCK_TAGS or tag in _CELL_TAGS or tag in _LINE_TAGS:
            stack.append((node, True))
        children = list(node.iter(include_text=True))  # type: ignore[attr-defined]
        stack.extend((c, False) for c in reversed(children))
    text = "".join(out)
    lines = [line.strip().strip("|").strip() for line in text.split("\n")]
    return title or None, lines


def read_html(path: Path) -> Iterator[TextDoc]:
    encoding = sniff_encoding(path)
    with open(path, encoding=encoding, errors="replace") as fh:
        html = fh.read()
    title, lines = html_to_lines(html)
    del html
    yield TextDoc(None, title, lines)


# ---------------------------------------------------------------- PDF


def read_pdf(path: Path) -> Iterator[TextDoc]:
    pypdf = require("pypdf", "docs", "reading .pdf documents")
    try:
        reader = pypdf.PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise Unreadable("encrypted PDF; decrypt it first")
        pages = reader.pages
        count = len(pages)
    except Unreadable:
        raise
    except Exception as exc:  # pypdf raises many kinds for broken files
        raise Unreadable(f"not a readable PDF ({type(exc).__name__}: {exc})") from exc
    title = None
    try:
        meta = reader.metadata
        title = (meta.title or None) if meta else None
    except Exception:
        title = None

    def lines() -> Iterator[str]:
        for i in range(count):
            try:
                text = pages[i].extract_text() or ""
            except Exception as exc:
                raise Unreadable(f"page {i + 1} cannot be read ({type(exc).__name__}: {exc})") from exc
            yield from text.split("\n")
            yield ""

    yield TextDoc(None, title, lines())


# ---------------------------------------------------------------- DOCX


def read_docx(path: Path) -> Iterator[TextDoc]:
    docx = require("docx", "docs", "reading .docx documents")
    try:
        document = docx.Document(str(path))
    except Exception as exc:
        raise Unreadable(f"not a readable .docx ({type(exc).__name__}: {exc})") from exc
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    title = (document.core_properties.title or None) if document.core_properties else None

    def lines() -> Iterator[str]:
        for child in document.element.body.iterchildren():
            tag = child.tag.rsplit("}", 1)[-1]
            if tag == "p":
                para = Paragraph(child, document)
                text = para.text.strip()
                if not text:
                    continue
                style = (para.style.name if para.style is not None else "") or ""
                level = _heading_level(style)
                yield ("#" * level + " " + text) if level else text
                yield ""
            elif tag == "tbl":
                for row in Table(child, document).rows:
                    cells = [c.text.strip() for c in row.cells]
                    yield " | ".join(c for c in cells if c)
                yield ""

    yield TextDoc(None, title, lines())


def _heading_level(style: str) -> int:
    if style == "Title":
        return 1
    m = re.match(r"Heading (\d)", style)
    return min(int(m.group(1)), 6) if m else 0


# ---------------------------------------------------------------- JSON / JSONL


def _row_doc(row: object, where: str, text_field: str, id_field: str | None, title_field: str | None,
             fallback_key: str, on_skip: OnSkip) -> TextDoc | None:
    if not isinstance(row, dict):
        on_skip(where, f"not a JSON object (got {type(row).__name__})")
        return None
    text = row.get(text_field)
    if not isinstance(text, str):
        have = ", ".join(sorted(map(str, row))[:8]) or "none"
        on_skip(where, f'no string field "{text_field}" (fields: {have}); set text_field')
        return None
    if not text.strip():
        on_skip(where, f'field "{text_field}" is empty')
        return None
    key = str(row[id_field]) if id_field and row.get(id_field) is not None else fallback_key
    title = row.get(title_field) if title_field else None
    return TextDoc(key, title if isinstance(title, str) and title.strip() else None, io.StringIO(text))


def read_jsonl(path: Path, *, text_field: str = "text", id_field: str | None = None,
               title_field: str | None = "title", on_skip: OnSkip) -> Iterator[TextDoc]:
    encoding = sniff_encoding(path)
    with open(path, encoding=encoding, errors="replace") as fh:
        yield from _jsonl_rows(fh, path, text_field, id_field, title_field, on_skip)


def _jsonl_rows(fh: Iterable[str], path: Path, text_field: str, id_field: str | None, title_field: str | None,
                on_skip: OnSkip) -> Iterator[TextDoc]:
    for n, line in enumerate(fh, 1):  # whole lines: a row is one JSON value, however long
        if not line.strip():
            continue
        where = f"{path.name}:{n}"
        try:
            row = json.loads(line)
        except ValueError as exc:
            on_skip(where, f"malformed JSON ({exc})")
            continue
        doc = _row_doc(row, where, text_field, id_field, title_field, str(n), on_skip)
        if doc is not None:
            yield doc


def read_json(path: Path, *, text_field: str = "text", id_field: str | None = None,
              title_field: str | None = "title", on_skip: OnSkip) -> Iterator[TextDoc]:
    encoding = sniff_encoding(path)
    try:
        with open(path, encoding=encoding) as fh:
            value = json.load(fh)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Unreadable(f"malformed JSON ({exc})") from exc
    rows = value if isinstance(value, list) else [value]
    for i, row in enumerate(rows):
        doc = _row_doc(row, f"{path.name}[{i}]", text_field, id_field, title_field, str(i), on_skip)
        if doc is not None:
            yield doc


READERS = {
    ".txt": read_text,
    ".text": read_text,
    ".md": read_text,
    ".markdown": read_text,
    ".html": read_html,
    ".htm": read_html,
    ".pdf": read_pdf,
    ".docx": read_docx,
    ".json": read_json,
    ".jsonl": read_jsonl,
}
ROW_READERS = {".json", ".jsonl"}
