"""Preference data (`technique: preference`): N scored responses per prompt, then (chosen, rejected) pairs.

The judge's default aspects are UltraFeedback's (Cui et al. 2023): helpfulness, honesty, instruction
following, truthfulness, each rated 1-5 with a rationale.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from .common import Strict
from .models import ModelConfig

ASPECTS: tuple[str, ...] = ("helpfulness", "honesty", "instruction_following", "truthfulness")
PAIR_RULES: tuple[str, ...] = ("best_vs_worst", "best_vs_random", "all_above_margin")
PREFERENCE_SIGNALS: tuple[str, ...] = ("relevance", "completeness", "fluency")
STRATEGY_PROMPTS: tuple[str, ...] = ("few_shot", "zero_shot", "weak")


class ResponseStrategy(Strict):
    """One way of answering a prompt: each strategy writes one response per prompt."""

    name: str = Field(..., min_length=1, description="a name for the strategy (shown in the data's lineage and report)")
    prompt: Literal[STRATEGY_PROMPTS] = Field(  # type: ignore[valid-type]
        "few_shot", description="few_shot: the prompt file's answers as worked examples; zero_shot: the prompt alone; "
        "weak: worked examples cut to their first few words, a deliberately weaker answer for contrast")
    temperature: float = Field(0.7, ge=0, le=2)
    top_p: float = Field(0.95, gt=0, le=1)
    max_tokens: int = Field(256, gt=0, description="budget of each response (a response cut off here is dropped)")
    model: ModelConfig | None = Field(None, description="a model of its own; default: the recipe's model")


def _default_strategies() -> list[ResponseStrategy]:
    return [ResponseStrategy(name="careful", prompt="few_shot", temperature=0.3),
            ResponseStrategy(name="varied", prompt="few_shot", temperature=1.0),
            ResponseStrategy(name="weak", prompt="weak", temperature=1.2)]


class PreferenceJudge(Strict):
    """The LLM judge: each response is rated alone (its own call), so the order of responses cannot matter."""

    aspects: list[str] = Field(default_factory=lambda: list(ASPECTS),
                               description="aspects rated 1-5, each with a rationale; UltraFeedback's by default")
    descriptions: dict[str, str] = Field(default_factory=dict,
                                         description="what an aspect means, for aspects of your own (or to override)")
    model: ModelConfig | None = Field(None, description="a judge model of its own; default: the recipe's model")
    max_tokens: int = Field(400, gt=0)
    few_shot: bool = Field(True, description="show worked verdicts made from the prompt file's own answers")

    @field_validator("aspects")
    @classmethod
    def _some(cls, v: list[str]) -> list[str]:
        v = list(dict.fromkeys(a.strip() for a in v if a.strip()))
        if not v:
            raise ValueError(f"judge.aspects is empty: name at least one, e.g. {', '.join(ASPECTS)}")
        return v

    @model_validator(mode="after")
    def _described(self) -> "PreferenceJudge":
        unknown = [a for a in self.aspects if a not in ASPECTS and a not in self.descriptions]
        if unknown:
            raise ValueError(f"judge.aspects: {', '.join(unknown)} has no description; add it under "
                             f"judge.descriptions (built-in aspects: {', '.join(ASPECTS)})")
        return self


class RewardModel(Strict):
    """A reward model: an HTTP endpoint that returns a score for (prompt, response), or a local function."""

    url: str | None = Field(None, description="POST endpoint; the body is {model, messages: [user, assistant]}, the "
                            "reply a JSON number or an object with `score` / `reward` / data[0].score / data[0].data")
    model: str | None = Field(None, description="model name sent in the body")
    api_key_env: str | None = Field(None, description="environment variable holding a bearer token")
    function: str | None = Field(None, description="a local scorer instead: 'module:function' taking (prompt, response)")
    timeout: float = Field(60.0, gt=0)

    @model_validator(mode="after")
    def _one(self) -> "RewardModel":
        if (self.url is None) == (self.function is None):
            raise ValueError("reward: give exactly one of url (an endpoint) or function ('module:function')")
        return self


class PreferenceTechnique(Strict):
    """Preference pairs for DPO, ORPO and KTO: several scored responses per prompt, the best against the worst."""

    technique: Literal["preference"] = "preference"
    prompts: str | None = Field(None, description="JSONL file of prompts: instruction, optional input and output "
                                "(outputs become the worked examples)")
    from_run: str | None = Field(None, description="another run's folder or data file: its instructions become the "
                                 "prompts, its responses the worked examples")
    responses: list[ResponseStrategy] = Field(default_factory=_default_strategies,
                                              description="strategies, one response each per prompt (at least two)")
    judge: PreferenceJudge | None = Field(default_factory=PreferenceJudge, description="null: no judge")
    signals: list[Literal[PREFERENCE_SIGNALS]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: ["relevance", "completeness"],
        description="judge-free signals scored per response: relevance, completeness, fluency (perplexity)")
    reward: RewardModel | None = Field(None, description="an optional reward model")
    weights: dict[Literal["judge", "signals", "reward"], float] = Field(  # type: ignore[valid-type]
        default_factory=lambda: {"judge": 1.0},
        description="how a response's score is made: judge (mean rating, scaled 0-1), signals (mean, 0-1), reward (raw)")
    pairs: Literal[PAIR_RULES] = Field("best_vs_worst", description="best_vs_worst, best_vs_random or "  # type: ignore[valid-type]
                                       "all_above_margin")
    margin: float = Field(0.1, ge=0, description="a pair needs chosen - rejected >= margin (in score units); "
                          "ties and smaller gaps are dropped with their reason")
    shots: int = Field(3, ge=0, le=8, description="worked examples per response prompt")

    @field_validator("responses")
    @classmethod
    def _two(cls, v: list[ResponseStrategy]) -> list[ResponseStrategy]:
        if len(v) < 2:
            raise ValueError(f"responses: a pair needs at least two strategies (got {len(v)})")
        names = [s.name for s in v]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"responses: strategy names must differ ({', '.join(dup)} repeated)")
        return v

    @model_validator(mode="after")
    def _sources_and_weights(self) -> "PreferenceTechnique":
        if (self.prompts is None) == (self.from_run is None):
            raise ValueError("give exactly one of prompts (a JSONL file) or from_run (another run's folder)")
        if not self.weights or not any(w for w in self.weights.values()):
            raise ValueError("weights: give at least one non-zero weight, e.g. {judge: 1.0}")
        needs = {"judge": self.judge is not None, "signals": bool(self.signals), "reward": self.reward is not None}
        missing = [k for k, w in self.weights.items() if w and not needs[k]]
        if missing:
            raise ValueError(f"weights names {', '.join(missing)}, which this recipe turns off: "
                             "configure it or drop its weight")
        return self
