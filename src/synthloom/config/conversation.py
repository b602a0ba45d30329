"""Multi-turn dialogues between a simulated user and an assistant: `technique: conversation`,
and the scenarios `synthloom simulate` plays against a target endpoint."""
from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from .common import Sampling, Strict
from .models import ModelConfig


class Scenario(Strict):
    """What one simulated user is like and wants. Every field but `goal` is optional."""

    goal: str = Field(..., min_length=5, description="what the user wants from the conversation, in one sentence")
    persona: str = Field("", description="who the user is, e.g. 'a retired teacher, new to smartphones'")
    mood: str = Field("", description="e.g. calm, impatient, confused")
    knowledge: str = Field("", description="what the user already knows or has at hand (an id, a number)")
    opening: str = Field("", description="the user's first message, verbatim (default: the model writes it)")
    expect: list[str] = Field(default_factory=list,
                              description="simulate: words or phrases (case-insensitive) one of which a reply must "
                                          "contain before the goal counts as reached")
    attributes: dict[str, str] = Field(default_factory=dict, description="any other axes, e.g. {channel: chat}")


class ExampleTurn(Strict):
    role: Literal["user", "assistant"]
    content: str = Field(..., min_length=1)


def parse_turns(text: str | int | tuple | list) -> tuple[int, int]:
    """`turns: 2-8` (or 6, or [2, 8]) -> (2, 8)."""
    if isinstance(text, int):
        return text, text
    if isinstance(text, (list, tuple)):
        if len(text) != 2:
            raise ValueError(f"turns: give a range like 2-8 or [2, 8] (got {text!r})")
        lo, hi = int(text[0]), int(text[1])
    else:
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", str(text))
        if not m:
            raise ValueError(f"turns: give a range like 2-8 or a number (got {text!r})")
        lo = int(m.group(1))
        hi = int(m.group(2) or lo)
    if not 2 <= lo <= hi:
        raise ValueError(f"turns: {lo}-{hi} must be at least 2 (one user message and one reply), low <= high")
    return lo, hi


class ConversationTechnique(Strict):
    technique: Literal["conversation"] = "conversation"
    system: str = Field("", description="the assistant's system prompt (inline text, or a .md/.txt file); it goes "
                                        "into every assistant call and first in each exported conversation")
    scenarios: list[Scenario] | str = Field(
        ..., description="the simulated users: a list of scenarios, or a YAML/JSON/JSONL file of them")
    attributes: dict[str, list[str]] = Field(
        default_factory=dict, description="extra axes sampled per conversation (balanced), e.g. {mood: [calm, angry]}; "
                                          "an axis named persona, mood or knowledge fills that scenario field when empty")
    turns: str | int | list[int] = Field("2-8", description="messages per conversation (user and assistant each "
                                                            "count one): a range; the limit is sampled per conversation "
                                                            "and the user may end it from the low end on")
    examples: list[list[ExampleTurn]] = Field(
        default_factory=list, description="example conversations (lists of {role, content}): the first shows both "
                                          "the user and the assistant how a turn reads (a base model needs one)")
    paragraph: bool = Field(True, description="an assistant turn is one paragraph: it ends at its first line "
                                              "break (a base model goes on with a list or the next speaker's turn)")
    judge: bool = Field(False, description="after each conversation, ask a model whether the goal was reached and "
                                           "the dialogue is consistent (roles kept, no contradiction); an inconsistent "
                                           "one is rejected (`conversation:inconsistent`), the goal verdict recorded")
    judge_model: ModelConfig | None = Field(None, description="the judge's model (default: the recipe's)")
    user_model: ModelConfig | None = Field(None, description="the simulated user's model (default: the recipe's)")
    assistant_model: ModelConfig | None = Field(None, description="the assistant's model (default: the recipe's)")
    tries: int = Field(3, ge=1, le=10, description="tries per turn: a rejected turn is written again, same history")
    min_relevance: float = Field(0.1, ge=-1, le=1, description="lowest MiniLM cosine between a turn and the one "
                                                               "before it (-1: off)")
    min_goal_relevance: float = Field(0.25, ge=-1, le=1, description="lowest MiniLM cosine between the user's "
                                                                    "first message and its goal (-1: off)")
    user_sampling: Sampling = Field(default_factory=lambda: Sampling(temperature=0.8, max_tokens=120))
    sampling: Sampling = Field(default_factory=lambda: Sampling(temperature=0.7, max_tokens=160))

    @field_validator("turns")
    @classmethod
    def _turns(cls, v):
        parse_turns(v)
        return v

    @model_validator(mode="after")
    def _scenarios(self) -> "ConversationTechnique":
        if isinstance(self.scenarios, list) and not self.scenarios:
            raise ValueError("scenarios: give at least one scenario (a goal each), or a file of them")
        for i, ex in enumerate(self.examples):
            if len(ex) < 2 or ex[0].role != "user" or any(a.role == b.role for a, b in zip(ex, ex[1:])):
                raise ValueError(f"examples[{i}]: a conversation alternates user and assistant, starting with user")
        return self

    def turn_range(self) -> tuple[int, int]:
        return parse_turns(self.turns)
