"""Documents in, chunks out: walking folders, reading each file, chunking, reporting what was skipped."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from ..errors import InputFileError, MissingDependencyError
from .chunking import chunk_lines
from .readers import READERS, ROW_READERS, TextDoc, Unreadable

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of one document. `id` is `<doc_id>#<index>`; `start` is a character offset in the document's text."""

    id: str
    doc_id: str
    index: int
    text: str
    heading_path: tuple[str, ...] = ()
    start: int = 0
    source: str = ""  # the file it came from

    @property
    def heading(self) -> str:
        return " > ".join(self.heading_path)


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    id: str
    source: str
    title: str | None
    chunks: int
    chars: int


@dataclass(frozen=True, slots=True)
class SkippedFile:
    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.name}: {self.reason}"


@dataclass
class Corpus:
    """Chunks of every readable document, the documents, and the files or rows that were skipped."""

    chunks: list[Chunk] = field(default_factory=list)
    documents: list[DocumentInfo] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._by_id = {c.id: c for c in self.chunks}

    def chunk(self, chunk_id: str) -> Chunk:
        return self._by_id[chunk_id]

    def get(self, chunk_id: str) -> Chunk | None:
        return self._by_id.get(chunk_id)

    def doc_chunks(self, doc_id: str) -> list[Chunk]:
        return [c for c in self.chunks if c.doc_id == doc_id]

    def summary(self) -> str:
        s = f"{len(self.documents)} document(s), {len(self.chunks)} chunk(s)"
        if self.skipped:
            s += f", {len(self.skipped)} skipped"
        return s


@dataclass(frozen=True)
class ChunkOptions:
    size: int = 1500
    overlap: int = 150
    unit: str = "chars"
    respect_headings: bool = True


def supported_suffixes() -> list[str]:
    return sorted(READERS)


def iter_files(paths: str | Path | Sequence[str | Path], *, base_dir: Path | None = None,
               extensions: Iterable[str] | None = None,
               skipped: list[SkippedFile] | None = None) -> Iterator[tuple[Path, str]]:
    """(path, document id) for every file under `paths`, in a stable order. Missing paths are an error."""
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if not items:
        raise InputFileError("no documents given: name a folder or file with `docs`")
    exts = {e if e.startswith(".") else "." + e for e in (extensions or READERS)}
    exts = {e.lower() for e in exts}
    for item in items:
        p = Path(item).expanduser()
        if not p.is_absolute() and base_dir is not None:
            p = base_dir / p
        if not p.exists():
            raise InputFileError(f"{item}: no such file or folder (docs are read relative to {base_dir or Path.cwd()})")
        if p.is_file():
            yield p, p.name
            continue
        for f in sorted(p.rglob("*")):
            rel = f.relative_to(p)
            if any(part.startswith(".") for part in rel.parts) or not f.is_file():
                continue  # hidden files and folders (.git, .DS_Store) are not documents
            if f.suffix.lower() not in exts:
                if skipped is not None and f.suffix.lower() not in READERS:
                    _skip(skipped, rel.as_posix(), f"unsupported file type '{f.suffix or '(none)'}' "
                                                   f"(supported: {' '.join(supported_suffixes())})")
                continue
            yield f, rel.as_posix()


def _skip(skipped: list[SkippedFile], name: str, reason: str) -> None:
    log.warning("skipping %s: %s", name, reason)
    skipped.append(SkippedFile(name, reason))


def iter_documents(paths: str | Path | Sequence[str | Path], *, base_dir: Path | None = None,
                   text_field: str = "text", id_field: str | None = None, title_field: str | None = "title",
                   extensions: Iterable[str] | None = None,
                   skipped: list[SkippedFile] | None = None) -> Iterator[tuple[str, str, TextDoc]]:
    """(doc id, file name, TextDoc) for every readable document; problems go to `skipped`."""
    sink: list[SkippedFile] = skipped if skipped is not None else []
    for path, name in iter_files(paths, base_dir=base_dir, extensions=extensions, skipped=sink):
        reader = READERS.get(path.suffix.lower())
        if reader is None:
            _skip(sink, name, f"unsupported file type '{path.suffix or '(none)'}' "
                              f"(supported: {' '.join(supported_suffixes())})")
            continue
        try:
            if path.suffix.lower() in ROW_READERS:
                docs = reader(path, text_field=text_field, id_field=id_field, title_field=title_field,
                              on_skip=lambda where, why: _skip(sink, _row_name(name, path, where), why))
            else:
                docs = reader(path)
            for doc in docs:
                doc_id = f"{name}:{doc.key}" if doc.key is not None else name
                yield doc_id, name, doc
        except Unreadable as exc:
            _skip(sink, name, str(exc))
        except MissingDependencyError:
            raise
        except (OSError, UnicodeError, ValueError) as exc:
            _skip(sink, name, f"cannot be read ({type(exc).__name__}: {exc})")


def _row_name(name: str, path: Path, where: str) -> str:
    # where is "file.jsonl:12" or "file.json[3]": keep the folder-relative name
    return name[: -len(path.name)] + where if name.endswith(path.name) else where


def iter_chunks(paths: str | Path | Sequence[str | Path], *, base_dir: Path | None = None,
                options: ChunkOptions = ChunkOptions(), text_field: str = "text", id_field: str | None = None,
                title_field: str | None = "title", extensions: Iterable[str] | None = None,
                skipped: list[SkippedFile] | None = None,
                documents: list[DocumentInfo] | None = None) -> Iterator[Chunk]:
    """Stream the chunks of every readable document (bounded memory: one chunk at a time)."""
    sink: list[SkippedFile] = skipped if skipped is not None else []
    for doc_id, name, doc in iter_documents(paths, base_dir=base_dir, text_field=text_field, id_field=id_field,
                                            title_field=title_field, extensions=extensions, skipped=sink):
        count = chars = 0
        try:
            for raw in chunk_lines(doc.lines, size=options.size, overlap=options.overlap, unit=options.unit,
                                   respect_headings=options.respect_headings, root_heading=doc.title):
                count += 1
                chars += len(raw.text)
                yield Chunk(f"{doc_id}#{raw.index}", doc_id, raw.index, raw.text, raw.heading_path, raw.start, name)
        except Unreadable as exc:
            _skip(sink, doc_id, str(exc))
            continue
        except (OSError, UnicodeError) as exc:
            _skip(sink, doc_id, f"cannot be read ({type(exc).__name__}: {exc})")
            continue
        if count == 0:
            _skip(sink, doc_id, "no text (empty, or only whitespace/markup)")
        elif documents is not None:
            documents.append(DocumentInfo(doc_id, name, doc.title, count, chars))


def load_corpus(paths: str | Path | Sequence[str | Path], *, base_dir: Path | None = None,
                options: ChunkOptions = ChunkOptions(), text_field: str = "text", id_field: str | None = None,
                title_field: str | None = "title", extensions: Iterable[str] | None = None) -> Corpus:
    """Read and chunk every document; unreadable or empty ones are logged and listed in `corpus.skipped`."""
    skipped: list[SkippedFile] = []
    documents: list[DocumentInfo] = []
    chunks = list(iter_chunks(paths, base_dir=base_dir, options=options, text_field=text_field, id_field=id_field,
                              title_field=title_field, extensions=extensions, skipped=skipped, documents=documents))
    corpus = Corpus(chunks, documents, skipped)
    log.info("documents: %s", corpus.summary())
    return corpus


def require_chunks(corpus: Corpus, where: str) -> Corpus:
    """An error that lists what was skipped when no document was readable."""
    if corpus.chunks:
        return corpus
    if corpus.skipped:
        listing = "; ".join(str(s) for s in corpus.skipped[:10])
        more = f" (and {len(corpus.skipped) - 10} more)" if len(corpus.skipped) > 10 else ""
        raise InputFileError(f"{where}: no readable document; skipped {listing}{more}")
    raise InputFileError(f"{where}: no documents found (supported: {' '.join(supported_suffixes())})")
