"""Document ingestion: read .txt/.md/.html/.pdf/.json/.jsonl/.docx files and cut them into chunks.

    corpus = load_corpus("docs/", options=ChunkOptions(size=1200, overlap=100))
    corpus.chunks     # Chunk(id, doc_id, index, text, heading_path, start, source)
    corpus.skipped    # SkippedFile(name, reason) for every unreadable, empty or binary file

`iter_chunks` streams the same chunks without keeping them (bounded memory).
"""
from .chunking import CHARS_PER_TOKEN, chunk_lines
from .documents import (
    Chunk,
    ChunkOptions,
    Corpus,
    DocumentInfo,
    SkippedFile,
    iter_chunks,
    iter_documents,
    load_corpus,
    require_chunks,
    supported_suffixes,
)

__all__ = [
    "CHARS_PER_TOKEN",
    "Chunk",
    "ChunkOptions",
    "Corpus",
    "DocumentInfo",
    "SkippedFile",
    "chunk_lines",
    "iter_chunks",
    "iter_documents",
    "load_corpus",
    "require_chunks",
    "supported_suffixes",
]
