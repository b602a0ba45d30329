"""CLI commands for the documents work. `register` adds them to the app."""
from __future__ import annotations

import typer


def register(app: typer.Typer, generate_app: typer.Typer) -> None:
    return None
