"""Everything a recipe can name, each in one row: the techniques (`generate:`) and the gates (`quality:`).

A technique is its config model and its generator. The model's `technique` literal is the tag a
recipe writes; the generator is the function `build` in `synthloom.generators.<tag>` (module
names equal recipe tags). A gate is the same with `gate` and `synthloom.quality.<tag>`.

From these two tables, and nowhere else, come the recipe's unions (`TechniqueConfig` and
`GateConfig` below, used by config/recipe.py), the builder tables (`generators.TECHNIQUES`,
`quality.GATES`) and a `synthloom generate <tag>` command for a technique that has no
hand-written one (cli/built.py). A builder is only named here as a string, so a run imports the
generator and the gates its recipe names and no others. tests/test_catalog.py checks that every
row has its module, its `build` and its docs page; docs/extending.md shows how to add one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Union

from pydantic import Field

from .classify import AugmentTechnique, ClassificationTechnique, ReferenceGateConfig
from .conversation import ConversationTechnique
from .decontaminate import DecontaminateGateConfig
from .documents import (DocumentsTechnique, EntitiesGateConfig, ExtractTechnique, GroundingGateConfig, QATechnique,
                        RecoverableGateConfig, SupportGateConfig)
from .instruct import EvolInstructTechnique, SelfInstructTechnique
from .preference import PreferenceTechnique
from .quality import DedupGateConfig, DiversityGateConfig, FilterGateConfig, JudgeGateConfig, LabelGateConfig
from .redteam import AdversarialTechnique, LanguageGateConfig, RedteamTechnique, TranslateTechnique
from .schema_gen import SchemaTechnique
from .signals import CompletenessGateConfig, FluencyGateConfig, FormGateConfig, RelevanceGateConfig
from .tools import ToolsTechnique


def tag_of(model: type, key: str) -> str:
    """The tag a recipe writes for `model`: the default of its `technique` / `gate` literal field."""
    field = model.model_fields.get(key)
    if field is None or not isinstance(field.default, str):
        raise TypeError(f"{model.__name__} has no `{key}: Literal[\"...\"] = \"...\"` field: "
                        f"that field is the tag a recipe writes")
    return field.default


@dataclass(frozen=True)
class Technique:
    """One technique: its config model and the page that documents it (relative to the repository)."""

    config: type
    docs: str

    @property
    def tag(self) -> str:
        return tag_of(self.config, "technique")

    @property
    def generator(self) -> str:
        return f"synthloom.generators.{self.tag}:build"


@dataclass(frozen=True)
class Gate:
    """One gate: its config model and the page that documents it (relative to the repository)."""

    config: type
    docs: str

    @property
    def tag(self) -> str:
        return tag_of(self.config, "gate")

    @property
    def builder(self) -> str:
        return f"synthloom.quality.{self.tag}:build"


_T = "docs/techniques"
TECHNIQUES: tuple[Technique, ...] = (
    Technique(SchemaTechnique, f"{_T}/schema.md"),
    Technique(SelfInstructTechnique, f"{_T}/instruct.md"),
    Technique(EvolInstructTechnique, f"{_T}/instruct.md"),
    Technique(ExtractTechnique, f"{_T}/documents.md"),
    Technique(DocumentsTechnique, f"{_T}/documents.md"),
    Technique(QATechnique, f"{_T}/documents.md"),
    Technique(RedteamTechnique, f"{_T}/redteam.md"),
    Technique(TranslateTechnique, f"{_T}/redteam.md"),
    Technique(AdversarialTechnique, f"{_T}/redteam.md"),
    Technique(ClassificationTechnique, f"{_T}/classification.md"),
    Technique(AugmentTechnique, f"{_T}/classification.md"),
    Technique(ConversationTechnique, f"{_T}/conversations.md"),
    Technique(ToolsTechnique, f"{_T}/tools.md"),
    Technique(PreferenceTechnique, f"{_T}/preference.md"),
)

_Q = "docs/quality.md"
GATES: tuple[Gate, ...] = (
    Gate(DedupGateConfig, _Q),
    Gate(FilterGateConfig, _Q),
    Gate(JudgeGateConfig, _Q),
    Gate(LabelGateConfig, _Q),
    Gate(DiversityGateConfig, _Q),
    Gate(LanguageGateConfig, f"{_T}/redteam.md"),  # it checks translations
    Gate(ReferenceGateConfig, _Q),
    Gate(EntitiesGateConfig, f"{_T}/documents.md"),
    Gate(GroundingGateConfig, f"{_T}/documents.md"),
    Gate(SupportGateConfig, f"{_T}/documents.md"),
    Gate(RecoverableGateConfig, f"{_T}/documents.md"),
    Gate(RelevanceGateConfig, _Q),
    Gate(FluencyGateConfig, _Q),
    Gate(CompletenessGateConfig, _Q),
    Gate(FormGateConfig, _Q),
    Gate(DecontaminateGateConfig, "docs/decontaminate.md"),
)


def _union(models: list[type], key: str) -> Any:
    return Annotated[Union[tuple(models)], Field(discriminator=key)]


# what a recipe's `generate:` may be, and each entry of its `quality:` list
TechniqueConfig = _union([t.config for t in TECHNIQUES], "technique")
GateConfig = _union([g.config for g in GATES], "gate")
