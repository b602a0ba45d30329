"""A private scratch SQLite file for state too large to keep in memory (dedup indexes, export split plans).

SQLite's temporary database (`connect("")`) lives in a file that is deleted when the connection closes; no
journal and no syncing, since nothing in it must survive a crash (a resumed run rebuilds it).
"""
from __future__ import annotations

import sqlite3


def scratch_db(cache_kib: int, schema: str, *, cached_statements: int = 128) -> sqlite3.Connection:
    """A connection to a new scratch database with `schema` created and a page cache of `cache_kib` KiB."""
    db = sqlite3.connect("", isolation_level=None, check_same_thread=False, cached_statements=cached_statements)
    for pragma in ("journal_mode=OFF", "synchronous=OFF", f"cache_size=-{int(cache_kib)}", "temp_store=FILE"):
        db.execute(f"PRAGMA {pragma}")
    db.executescript(schema)
    return db
