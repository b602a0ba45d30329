"""Files and folders the user named: reading YAML/JSON inputs and creating outputs.

Every failure here becomes one line that names the path as the user wrote it, says
why, and says what to do; nothing is created when an output path cannot be used.
Use these instead of a bare `yaml.safe_load` or `Path.mkdir` on a user's path.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

from .errors import InputFileError, OutputPathError, SynthloomError


def show(path: str | Path) -> str:
    """A path as short as it can be said: relative to the current folder when it is inside it."""
    p = Path(path)
    if p.is_absolute():
        try:
            rel = p.relative_to(Path.cwd())
        except ValueError:
            return str(p)
        return str(rel) if rel.parts else str(p)
    return str(p)


# -- reading -------------------------------------------------------------------------------------

def _yaml_hint(problem: str, context: str, context_at: str) -> str:
    if "'\\t'" in problem:
        return "indent with spaces, not tabs"
    if "mapping values are not allowed" in problem:
        return "put quotes around a value that contains ': '"
    if "flow sequence" in context:
        return f"close the '[' opened at {context_at} with ']'" if context_at else "close the '[' with ']'"
    if "flow mapping" in context:
        return f"close the '{{' opened at {context_at} with '}}'" if context_at else "close the '{' with '}'"
    if "quoted scalar" in context:
        return f"close the quote opened at {context_at}" if context_at else "close the quote"
    if "could not find expected ':'" in problem:
        return "write each entry of a mapping as `key: value`"
    if "block" in context and "expected <block end>" in problem:
        return "line the entries of a list or mapping up at the same indentation"
    return "fix the syntax there"


def yaml_error_line(origin: str, exc: Exception) -> str:
    """One line for a YAML parse error: file, line, column, what is wrong, what to do."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
    context = " ".join(str(getattr(exc, "context", None) or "").split())
    cmark = getattr(exc, "context_mark", None)
    context_at = f"line {cmark.line + 1}, column {cmark.column + 1}" if cmark else ""
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    return f"{origin}: not valid YAML{where}: {problem}; {_yaml_hint(problem, context, context_at)}"


def json_error_line(origin: str, exc: json.JSONDecodeError) -> str:
    return (f"{origin}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}; "
            "fix the syntax there (JSON needs double quotes and no trailing commas)")


def read_text(path: str | Path, what: str = "file", error: type[SynthloomError] = InputFileError) -> str:
    """The text of a UTF-8 file the user named, or one clear error."""
    p = Path(path)
    if p.is_dir():
        raise error(f"{show(p)}: is a folder; give the {what} itself")
    if not p.exists():
        raise error(f"{show(p)}: {what} not found; check the path")
    try:
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{show(p)}: not UTF-8 text (byte {exc.start}: {exc.reason}); save the {what} as UTF-8") from None
    except OSError as exc:
        raise error(f"{show(p)}: cannot read the {what} ({os_reason(exc)})") from None


def parse_data(text: str, origin: str, json_only: bool = False, error: type[SynthloomError] = InputFileError) -> Any:
    """Parse YAML (or JSON, which is YAML) text; a syntax error becomes one line naming origin, line and column."""
    if json_only:
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise error(json_error_line(origin, exc)) from None
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise error(yaml_error_line(origin, exc)) from None


def read_data(path: str | Path, what: str = "file", error: type[SynthloomError] = InputFileError) -> Any:
    """A YAML or JSON file the user named (.json is parsed as strict JSON), or one clear error."""
    p = Path(path)
    return parse_data(read_text(p, what, error), show(p), json_only=p.suffix.lower() == ".json", error=error)


def jsonl_values(path: str | Path, fix: str = "give one JSON object per line") -> Iterator[tuple[int, Any]]:
    """(line number, value) for each non-blank line of a UTF-8 JSONL file; a line that is not JSON
    is one InputFileError naming the file and the line, ending with `fix`."""
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as exc:
            raise InputFileError(f"{path}:{n}: not valid JSON ({exc}); {fix}") from None
        yield n, value


# -- creating ------------------------------------------------------------------------------------

def os_reason(exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    if exc.filename is not None:
        reason += f": {show(exc.filename)}"
    return reason


def folder_problem(folder: Path) -> str | None:
    """Why `folder` cannot exist or be written to, or None; creates nothing."""
    try:
        return _folder_problem(folder)
    except OSError as exc:  # e.g. a name too long to look up
        return os_reason(exc)


def _folder_problem(folder: Path) -> str | None:
    if folder.exists():
        if not folder.is_dir():
            return f"{show(folder)} is a file, not a folder"
        if not os.access(folder, os.W_OK | os.X_OK):
            return f"no permission to write in {show(folder)}"
        return None
    for anc in (folder, *folder.parents):
        if anc.is_symlink() and not anc.exists():
            return f"{show(anc)} is a link to {os.readlink(anc)}, which does not exist"
        if anc.exists():
            if not anc.is_dir():
                return f"{show(anc)} is a file, not a folder"
            if not os.access(anc, os.W_OK | os.X_OK):
                return f"no permission to create folders in {show(anc)}"
            return None
    return None


def _fail(named: str | Path, what: str, reason: str) -> OutputPathError:
    return OutputPathError(f"{show(named) if isinstance(named, Path) else named}: cannot create the {what} there: "
                           f"{reason}; choose another path")


def check_folder(folder: str | Path, what: str, named: str | Path | None = None) -> None:
    """Raise OutputPathError when `folder` could not be created or written; creates nothing.
    `named` is the path or field as the user wrote it (default: the folder)."""
    folder = Path(folder)
    reason = folder_problem(folder)
    if reason:
        raise _fail(named if named is not None else folder, what, reason)


def check_file(path: str | Path, what: str, named: str | Path | None = None) -> None:
    """Raise OutputPathError when the file `path` could not be written; creates nothing."""
    path = Path(path)
    if path.is_dir():
        shown = show(named) if isinstance(named, Path) else named or show(path)
        raise OutputPathError(f"{shown}: is a folder; the {what} needs a file name, e.g. {show(path / 'data.jsonl')}")
    check_folder(path.parent, what, named if named is not None else path)


def ensure_folder(folder: str | Path, what: str, named: str | Path | None = None) -> Path:
    """Create `folder` (and its parents), or raise one clear OutputPathError; nothing is created when it fails early."""
    folder = Path(folder)
    check_folder(folder, what, named)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _fail(named if named is not None else folder, what, os_reason(exc)) from None
    return folder


# -- writing -------------------------------------------------------------------------------------

@contextlib.contextmanager
def atomic_path(path: Path, what: str = "output file") -> Iterator[Path]:
    """Yield a temp path beside `path`; rename onto it only if the block succeeds.
    A path that cannot be written is one OutputPathError naming it, before the block runs."""
    path = Path(path)
    check_file(path, what)
    ensure_folder(path.parent, what, named=path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise OutputPathError(f"{show(path)}: cannot write the {what} there: {os_reason(exc)}; choose another path") from None
    os.close(fd)
    try:
        yield Path(tmp)
        try:
            os.replace(tmp, path)
        except OSError as exc:
            raise OutputPathError(f"{show(path)}: cannot write the {what} there: {os_reason(exc)}; "
                                  "choose another path") from None
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def readable(*paths: Path) -> None:
    """Files written through a temporary file are private (0600); a report is meant to be shared."""
    umask = os.umask(0)
    os.umask(umask)
    for p in paths:
        os.chmod(p, 0o666 & ~umask)
