"""The exception tree of synthloom.

    SynthloomError                 root: catch this to catch everything synthloom raises
     ├── UsageError                the user's input is wrong (exit code 2 in the CLI)
     │    ├── RecipeError          a recipe file or field is invalid
     │    ├── SchemaError          a JSON schema is invalid or unsatisfiable
     │    ├── InputFileError       a seed/document/data file is missing or malformed
     │    └── OutputPathError      a file or folder the user named cannot be created there
     ├── BackendError              a model backend failed (exit code 1)
     │    ├── BackendConnectionError   the server cannot be reached
     │    └── BackendAuthError         the server refused the API key
     ├── StoreError                the run store (SQLite) is unusable
     └── MissingDependencyError    an optional extra is not installed (exit code 2)

Every message says what was wrong, where, and what to do. Secrets never appear in one.
"""
from __future__ import annotations


class SynthloomError(Exception):
    """Root of all synthloom errors."""

    exit_code = 1


class UsageError(SynthloomError):
    exit_code = 2


class RecipeError(UsageError):
    pass


class SchemaError(UsageError):
    pass


class InputFileError(UsageError):
    pass


class OutputPathError(UsageError):
    pass


class BackendError(SynthloomError):
    pass


class BackendConnectionError(BackendError):
    pass


class BackendAuthError(BackendError):
    pass


class StoreError(SynthloomError):
    pass


class MissingDependencyError(UsageError):
    def __init__(self, package: str, extra: str, what: str = "") -> None:
        need = f" for {what}" if what else ""
        super().__init__(
            f"the optional package '{package}' is needed{need}: "
            f"install it with `pip install 'synthloom[{extra}]'`"
        )


def require(module: str, extra: str, what: str = ""):
    """Import an optional dependency, or raise an error naming the extra to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(module.split(".")[0], extra, what) from exc
