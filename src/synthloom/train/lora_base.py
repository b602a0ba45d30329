"""The LoRA student's base model: the bundled GGUF (or a Hugging Face folder) as a transformers model.

transformers converts a GGUF to its own weights on load (about 50 s for the bundled 270M model on 2 cores);
the converted model is cached under `cache_dir()` (`SYNTHLOOM_CACHE`), keyed by the GGUF's identity, so
the conversion happens once per machine.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import InputFileError

def apply_settings(settings: Any, overrides: dict[str, Any], what: str, convert: dict[str, Any] | None = None) -> Any:
    """Set each override that is not None on `settings` (a LoRA or DPO settings object; `convert` maps a
    setting to a function applied to its value), check them and return the object."""
    for k, v in overrides.items():
        if v is not None:
            if not hasattr(settings, k):
                raise TypeError(f"unknown {what} setting {k!r}")
            setattr(settings, k, (convert or {}).get(k, lambda x: x)(v))
    settings.check()
    return settings


def torch_threads(threads: int | None) -> int:
    """The threads a student trains on: `threads`, else half the cores (at least 1, at most 8)."""
    return threads or max(1, min(8, (os.cpu_count() or 2) // 2))


def cache_dir() -> Path:
    return Path(os.environ.get("SYNTHLOOM_CACHE", Path.home() / ".cache" / "synthloom"))


def resolve_base(base: str | None) -> dict[str, Any]:
    """{'hf_dir', 'gguf', 'name'} for the bundled model, a GGUF file or a Hugging Face model folder.

    A GGUF is converted once (transformers dequantizes it, ~1 minute) into the cache and reused."""
    from ..llm.model_files import bundled_model, resolve_model

    if base is not None:
        p = Path(base).expanduser()
        if p.is_dir():
            if not (p / "config.json").is_file():
                raise InputFileError(f"--base {base}: this folder has no config.json; give a Hugging Face model "
                                     "folder or a .gguf file")
            return {"hf_dir": p, "gguf": None, "name": p.name}
        if not p.exists():
            raise InputFileError(f"--base {base}: no such file or folder; give a .gguf file, a Hugging Face model "
                                 "folder, or leave --base out for the bundled Gemma 3 270M")
        gguf, sha = resolve_model(str(p))
    else:
        gguf, sha = bundled_model()
    target = cache_dir() / "hf" / f"{gguf.stem}-{sha[:16]}"
    if not (target / "config.json").is_file():
        _convert_gguf(gguf, target)
    return {"hf_dir": target, "gguf": gguf, "name": gguf.name, "sha256": sha}


def _convert_gguf(gguf: Path, target: Path) -> None:
    import shutil
    import tempfile

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _quiet_transformers()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        try:
            tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        except Exception as exc:  # transformers raises many kinds for an unsupported GGUF
            raise InputFileError(f"--base {gguf}: transformers cannot load this GGUF ({exc}); "
                                 "give a Hugging Face model folder instead") from exc
        model.hf_quantizer = None  # dequantized already; the flag only blocks saving
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _quiet_transformers() -> None:
    import transformers

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()


def load_base(hf_dir: Path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _quiet_transformers()

    tok = AutoTokenizer.from_pretrained(hf_dir)
    model = AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32)
    return model, tok


# ---------------------------------------------------------------- data
