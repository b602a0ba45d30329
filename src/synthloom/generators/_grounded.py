"""Helpers shared by the document-grounded techniques (extract, documents, qa)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from ..sources import ChunkOptions, Corpus, load_corpus, require_chunks
from .schema_io import limits_in_words
from .base import parse_object  # noqa: F401  (re-exported: shared with the schema technique)


def corpus_for(config: Any, base_dir: Path, where: str = "generate.docs") -> Corpus:
    """Read and chunk the documents a technique config names; an error when none is readable."""
    ch = config.chunking
    corpus = load_corpus(
        config.docs,
        base_dir=base_dir,
        options=ChunkOptions(ch.size, ch.overlap, ch.unit, ch.respect_headings),
        text_field=config.text_field,
        id_field=config.id_field,
        title_field=config.title_field,
        extensions=config.extensions,
    )
    return require_chunks(corpus, f"{where} ({_describe(config.docs)})")


def _describe(docs: str | Sequence[str]) -> str:
    return docs if isinstance(docs, str) else ", ".join(docs)


def sampled(sampling: Any, **overrides: Any) -> dict[str, Any]:
    base = {"max_tokens": sampling.max_tokens, "temperature": sampling.temperature, "top_p": sampling.top_p}
    base.update(overrides)
    return base


def outline(schema: dict[str, Any], limit: int = 40) -> list[str]:
    """One line per field, nested objects and arrays of objects included: `path (type): description`."""
    out: list[str] = []

    def walk(node: Any, prefix: str, depth: int) -> None:
        if not isinstance(node, dict) or depth > 3 or len(out) >= limit:
            return
        required = set(node.get("required", []))
        for name, sub in (node.get("properties") or {}).items():
            if not isinstance(sub, dict) or len(out) >= limit:
                continue
            path = f"{prefix}{name}"
            t = sub.get("type")
            t = t if isinstance(t, str) else "/".join(t) if isinstance(t, list) else ("enum" if "enum" in sub else "value")
            items = sub.get("items") if isinstance(sub.get("items"), dict) else None
            if t == "array" and items and items.get("type") == "object":
                t = "list of objects"
            bits = [f"{path} ({t}{', required' if name in required else ''}"
                    + (f", format {sub['format']}" if sub.get("format") else "") + ")"]
            if sub.get("description"):
                bits.append(str(sub["description"])[:160])
            if sub.get("enum"):
                bits.append("one of: " + ", ".join(map(str, sub["enum"][:12])))
            if limits_in_words(sub):
                bits.append(limits_in_words(sub))
            out.append(": ".join(bits[:1]) + (": " + "; ".join(bits[1:]) if len(bits) > 1 else ""))
            if t == "object":
                walk(sub, path + ".", depth + 1)
            elif items is not None:
                walk(items, path + "[].", depth + 1)

    walk(schema, "", 0)
    return out
