"""Jinja2 prompt templates, one file per prompt, user-overridable.

A template is looked up first in the folders named by SYNTHLOOM_PROMPTS_DIR
(os.pathsep-separated) or passed as `extra_dirs`, then in this package.
Every rendered prompt is recorded in lineage with its template name and hash.
"""
from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

import jinja2

_PACKAGE_DIR = Path(__file__).parent


@lru_cache(maxsize=8)
def _env(extra: tuple[str, ...]) -> jinja2.Environment:
    dirs = [*extra, *filter(None, os.environ.get("SYNTHLOOM_PROMPTS_DIR", "").split(os.pathsep)), str(_PACKAGE_DIR)]
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(dirs),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


class Prompt:
    """A loaded template: `render(**vars)`, plus `name` and `hash` for lineage."""

    def __init__(self, name: str, extra_dirs: tuple[str, ...] = ()) -> None:
        env = _env(tuple(extra_dirs))
        file = name if name.endswith(".j2") else f"{name}.j2"
        try:
            self.template = env.get_template(file)
        except jinja2.TemplateSyntaxError as exc:  # a user's override in SYNTHLOOM_PROMPTS_DIR
            from ..errors import UsageError
            from ..userfiles import show

            raise UsageError(f"{show(exc.filename or file)}: not a valid prompt template at line {exc.lineno}: "
                             f"{str(exc.message).rstrip('.')}; fix it, or remove it to use the built-in {file}") from None
        self.name = name
        source = Path(self.template.filename).read_bytes() if self.template.filename else b""
        self.hash = hashlib.blake2b(source, digest_size=6).hexdigest()

    def render(self, **variables: object) -> str:
        try:
            return self.template.render(**variables).strip()
        except jinja2.UndefinedError as exc:
            from ..errors import UsageError
            from ..userfiles import show

            raise UsageError(f"{show(self.template.filename or self.name)}: the prompt template uses an unknown "
                             f"variable ({exc.message}); it can use: {', '.join(sorted(variables))}") from None


def load(name: str, extra_dirs: tuple[str, ...] = ()) -> Prompt:
    return Prompt(name, extra_dirs)
