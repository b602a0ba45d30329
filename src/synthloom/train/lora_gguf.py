"""A merged GGUF: the base GGUF with each LoRA-adapted weight replaced by W + (alpha/r) B A, in F16.

Every other tensor and every metadata key is copied byte for byte, so the file loads in llama.cpp (and
synthloom's llamacpp backend) exactly as the base does; only the adapted projections change type.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MissingDependencyError

# Hugging Face module path -> GGUF tensor name (llama.cpp's names for Gemma/Llama-style blocks)
_NAMES = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
          "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
          "mlp.down_proj": "ffn_down"}
_LAYER = re.compile(r"layers\.(\d+)\.(.+)$")


def lora_deltas(peft_model: Any) -> dict[str, np.ndarray]:
    """{GGUF tensor name: scale * B @ A} for every LoRA-wrapped linear layer, shape (out, in)."""
    import torch

    deltas: dict[str, np.ndarray] = {}
    for name, module in peft_model.named_modules():
        if not hasattr(module, "lora_A") or "default" not in getattr(module, "lora_A", {}):
            continue
        m = _LAYER.search(name)
        if not m or m.group(2) not in _NAMES:
            raise ValueError(f"no GGUF name for the adapted module {name}")
        with torch.no_grad():
            a = module.lora_A["default"].weight
            b = module.lora_B["default"].weight
            delta = (b @ a) * module.scaling["default"]
        deltas[f"blk.{m.group(1)}.{_NAMES[m.group(2)]}.weight"] = delta.float().numpy()
    return deltas


def merged_gguf(peft_model: Any, base_gguf: Path, out: Path) -> Path:
    try:
        import gguf
    except ImportError as exc:
        raise MissingDependencyError("gguf", "train", "writing a merged GGUF") from exc
    from ..userfiles import atomic_path

    deltas = lora_deltas(peft_model)
    reader = gguf.GGUFReader(str(base_gguf))
    arch = reader.fields["general.architecture"].contents()
    tensors = []
    for t in reader.tensors:
        if t.name in deltas:
            w = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
            d = deltas.pop(t.name)
            if w.shape != d.shape:
                raise ValueError(f"{t.name}: base shape {w.shape} but adapter delta {d.shape}")
            tensors.append((t.name, (w + d).astype(np.float16), gguf.GGMLQuantizationType.F16))
        else:
            tensors.append((t.name, t.data, t.tensor_type))
    if deltas:
        raise ValueError(f"the base GGUF has no tensor {sorted(deltas)[0]}")
    with atomic_path(out) as tmp:
        writer = gguf.GGUFWriter(str(tmp), arch=arch, endianess=reader.endianess)
        for f in reader.fields.values():
            if f.name == gguf.Keys.General.ARCHITECTURE or f.name.startswith("GGUF."):
                continue
            vtype = f.types[0]
            sub = f.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
            writer.add_key_value(f.name, f.contents(), vtype, sub_type=sub)
        for name, data, qtype in tensors:
            writer.add_tensor_info(name, data.shape, data.dtype, data.nbytes, qtype)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        for _name, data, _q in tensors:
            writer.write_tensor_data(data, tensor_endianess=reader.endianess)
        writer.close()
    return out
