"""Function-calling datasets checked by running the tools: `technique: tools`."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_serializer, model_validator

from .common import Sampling, Strict, without_empty
from .models import ModelConfig

SCENARIO_KINDS = ("single", "parallel", "multi_step", "no_tool")


class ToolCall(Strict):
    name: str = Field(..., min_length=1)
    arguments: dict[str, Any] = Field(default_factory=dict)


class ToolExample(Strict):
    """One worked example: a request, the calls it needs (none for a request no tool fits), and the answer.
    The calls are run like generated ones, so the answer can quote their results."""

    request: str = Field(..., min_length=3)
    calls: list[ToolCall] = Field(default_factory=list)
    answer: str = Field("", description="the final answer that uses the results (shown to the answer writer)")
    scenario: Literal["single", "parallel", "multi_step", "no_tool"] | None = Field(
        None, description="the example's scenario kind; default: from its calls (none: no_tool, one: single, "
                          "more: parallel)")

    def kind(self) -> str:
        return self.scenario or ("no_tool" if not self.calls else "single" if len(self.calls) == 1 else "parallel")


class ToolsTechnique(Strict):
    technique: Literal["tools"] = "tools"
    tools: list[dict[str, Any]] | str | None = Field(
        None, description="the tools: OpenAI `tools` JSON or an MCP `tools/list` JSON, inline or a file; "
                          "default: the typed functions of `functions`")
    functions: str | None = Field(
        None, description="a Python file of typed functions that implement the tools (run in a separate process); "
                          "without `tools`, their signatures and docstrings are the tools")
    mock: dict[str, Any] | str = Field(
        default_factory=dict, description="responses for tools with side effects, not run: {tool: result} or "
                                          "{tool: [{arguments, result}, ...]} (recorded), inline or a JSON/YAML file")
    scenarios: list[Literal["single", "parallel", "multi_step", "no_tool"]] = Field(
        default_factory=lambda: list(SCENARIO_KINDS),
        description="scenario kinds, balanced over the records (repeat one to weight it): single (one call), "
                    "parallel (two independent calls), multi_step (a second call after the first's result), "
                    "no_tool (no tool fits: answered without a call)")
    examples: list[ToolExample] = Field(
        default_factory=list, description="worked examples (a base model needs a few): request, calls, answer")
    values: dict[str, dict[str, list[Any]]] = Field(
        default_factory=dict, description="argument values to write requests for, per tool and parameter, e.g. "
                                          "{get_order: {order_id: [A-1001, A-1002]}}: each planned call samples one, "
                                          "and the request is written around it (values the tools know make calls "
                                          "that run)")
    chains: list[tuple[str, str]] = Field(
        default_factory=list, description="multi_step pairs [first, second]: the second tool takes a value from "
                                          "the first one's result, e.g. [[list_orders, get_order]]; default: the "
                                          "pairs of the multi_step examples, else any two tools")
    instruction: str = Field("", description="what the users of these tools ask about (optional; guides requests)")
    timeout_s: float = Field(5.0, gt=0, le=300, description="time limit per tool call; a call past it is a timeout")
    grounded: bool = Field(True, description="semantics: every string/number argument must appear in the request "
                                             "(or an earlier result)")
    uses_results: bool = Field(True, description="semantics: the final answer must quote a value of the results")
    judge: bool = Field(False, description="semantics, after the judge-free checks: ask a model whether the calls "
                                           "answer the request and the answer uses the results (a 'no' rejects)")
    judge_model: ModelConfig | None = Field(None, description="the judge's model (default: the recipe's)")
    sampling: Sampling = Field(default_factory=lambda: Sampling(temperature=0.8, max_tokens=96))
    call_sampling: Sampling = Field(default_factory=lambda: Sampling(temperature=0.2, max_tokens=160))

    @model_serializer(mode="wrap")
    def _without_unset_judge(self, handler):
        return without_empty(handler(self), "judge", "judge_model")

    @model_validator(mode="after")
    def _sources(self) -> "ToolsTechnique":
        if self.tools is None and self.functions is None:
            raise ValueError("give `tools` (OpenAI or MCP tools JSON) or `functions` (a Python file of typed "
                             "functions), or both")
        if not self.scenarios:
            raise ValueError("scenarios: give at least one of single, parallel, multi_step, no_tool")
        return self
