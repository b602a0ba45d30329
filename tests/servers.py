"""Start the loopback test servers in tests/helpers/ and wait for them (generously: the suite runs on busy 2-core machines)."""
from __future__ import annotations

import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

HELPERS = Path(__file__).resolve().parent / "helpers"


@contextmanager
def record_server(folder: Path, *args: str, timeout_s: float = 60.0) -> Iterator[str]:
    """tests/helpers/record_server.py on a free port: yields its base URL (no /v1), stops it afterwards."""
    port_file = Path(folder) / "port"
    proc = subprocess.Popen([sys.executable, str(HELPERS / "record_server.py"), "--port-file", str(port_file), *args])
    try:
        deadline = time.monotonic() + timeout_s
        while not (port_file.exists() and port_file.read_text()):
            if proc.poll() is not None:
                raise RuntimeError(f"record_server.py exited with {proc.returncode} before it listened")
            if time.monotonic() > deadline:
                raise RuntimeError(f"record_server.py did not listen within {timeout_s:.0f} s")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port_file.read_text()}"
    finally:
        proc.kill()
        proc.wait()
