"""Quality gates a recipe can switch on. (Owned by the quality-control work.)"""
from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field

from .common import Strict


class DedupGateConfig(Strict):
    gate: Literal["dedup"] = "dedup"
    method: Literal["exact", "minhash", "semantic"] = "exact"
    fields: list[str] | None = Field(None, description="fields whose text is compared; default: the whole record")
    threshold: float = Field(0.8, gt=0, le=1)


GateConfig = Annotated[Union[DedupGateConfig], Field(discriminator="gate")]
