"""``python -m synthloom.llm.serve --model FILE ...``: llama-cpp-python's OpenAI-compatible server,
loading models the way synthloom's own backend does (no AMX weight repacking; see
``llamacpp.plain_cpu_weights``). Every option is llama_cpp.server's own.
"""
from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    try:
        import llama_cpp
        import llama_cpp.server.__main__ as server_main
    except ImportError as exc:  # pragma: no cover - depends on the install
        sys.exit(f"synthloom.llm.serve needs llama-cpp-python's server extra: pip install 'synthloom[server]' ({exc})")
    from .llamacpp import plain_cpu_weights

    if argv is not None:
        sys.argv = [sys.argv[0], *argv]
    # The server loads its model(s) inside main(); keep the patch for the whole process.
    with plain_cpu_weights(llama_cpp):
        server_main.main()


if __name__ == "__main__":
    main()
