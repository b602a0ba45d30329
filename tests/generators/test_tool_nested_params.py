"""Python tools whose parameters are nested types (a pydantic model, a dataclass, a `typing.TypedDict`, lists
of them): the schema is nested and self-contained (no `$ref`), the format check reads it, the decoder's
schema closes every object, and the function receives its own types when the call runs."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthloom.errors import InputFileError
from synthloom.generators._tool_runner import ToolRunner
from synthloom.generators._tool_specs import specs_from_module
from synthloom.generators.tools import calls_schema
from synthloom.quality.tool_calls import format_problem

NESTED = '''
"""Shop tools with nested parameters."""
from dataclasses import dataclass
from typing import Literal, Optional, TypedDict

from pydantic import BaseModel, Field


class Address(BaseModel):
    street: str
    city: str = Field(description="the city")
    country: Literal["PT", "JP", "NG"] = "PT"


@dataclass
class Line:
    sku: str
    qty: int = 1


class Window(TypedDict):
    start: str
    end: str


def place_order(customer: str, ship_to: Address, lines: list[Line], window: Optional[Window] = None) -> dict:
    """Place an order.

    Args:
        customer: who orders
        ship_to: where it goes
        lines: what is ordered
    """
    return {"to": type(ship_to).__name__ + ":" + ship_to.city, "lines": [type(l).__name__ + ":" + l.sku for l in lines],
            "qty": sum(l.qty for l in lines), "window": window}
'''


@pytest.fixture()
def nested(tmp_path: Path) -> Path:
    p = tmp_path / "shop.py"
    p.write_text(NESTED, encoding="utf-8")
    return p


def test_nested_parameter_types_become_a_nested_schema(nested: Path) -> None:
    (spec,), _ = specs_from_module(nested)
    params = spec.parameters
    text = json.dumps(params)
    assert "$ref" not in text and "$defs" not in text and '"title"' not in text, text
    props = params["properties"]
    assert params["required"] == ["customer", "ship_to", "lines"]
    assert props["ship_to"]["type"] == "object" and props["ship_to"]["description"] == "where it goes"
    assert props["ship_to"]["required"] == ["street", "city"]
    assert props["ship_to"]["properties"]["city"] == {"type": "string", "description": "the city"}
    assert props["ship_to"]["properties"]["country"]["enum"] == ["PT", "JP", "NG"]
    assert props["lines"]["type"] == "array"
    assert props["lines"]["items"]["properties"] == {"sku": {"type": "string"},
                                                     "qty": {"type": "integer", "default": 1}}
    assert props["lines"]["items"]["required"] == ["sku"]
    window = next(s for s in props["window"]["anyOf"] if s.get("type") == "object")  # typing.TypedDict, Python 3.11
    assert window["required"] == ["start", "end"]

    schemas = {spec.name: params}
    good = {"customer": "Ana", "ship_to": {"street": "Rua A 1", "city": "Lisbon"}, "lines": [{"sku": "X-1", "qty": 2}]}
    assert format_problem("place_order", good, schemas) is None
    bad = {**good, "lines": [{"sku": "X-1", "qty": "two"}]}
    reason, detail = format_problem("place_order", bad, schemas)
    assert reason == "format:invalid_arguments" and "'two' is not of type 'integer'" in detail
    # the decoder's schema closes the nested objects too (no invented keys), the record's stays as written
    item = calls_schema([spec], 1, 1)["properties"]["calls"]["items"]["properties"]["arguments"]
    assert item["properties"]["ship_to"]["additionalProperties"] is False
    assert item["properties"]["lines"]["items"]["additionalProperties"] is False
    assert "additionalProperties" not in params["properties"]["ship_to"]


def test_a_nested_call_runs_with_the_functions_own_types(nested: Path) -> None:
    runner = ToolRunner(nested, timeout_s=20)
    try:
        out = runner.call("place_order", {"customer": "Ana", "ship_to": {"street": "Rua A 1", "city": "Lisbon"},
                                          "lines": [{"sku": "X-1", "qty": 2}, {"sku": "Y-2"}],
                                          "window": {"start": "9:00", "end": "12:00"}})
        assert out.ok, out.error
        assert out.result == {"to": "Address:Lisbon", "lines": ["Line:X-1", "Line:Y-2"], "qty": 3,
                              "window": {"start": "9:00", "end": "12:00"}}
        bad = runner.call("place_order", {"customer": "Ana", "ship_to": {"street": "x"}, "lines": []})
        assert not bad.ok and "ValidationError" in bad.error and "city" in bad.error  # a tool error, not a crash
    finally:
        runner.close()


def test_a_type_that_contains_itself_is_a_clear_error(tmp_path: Path) -> None:
    p = tmp_path / "tree.py"
    p.write_text("from __future__ import annotations\nfrom pydantic import BaseModel\n\n\n"
                 "class Node(BaseModel):\n    name: str\n    children: list[Node] = []\n\n\n"
                 "def walk(root: Node) -> int:\n    \"\"\"Count nodes.\"\"\"\n    return 1\n")
    with pytest.raises(InputFileError, match=r"tree.py: walk: parameter `root`: the type Node contains itself"):
        specs_from_module(p)
