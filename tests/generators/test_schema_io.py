"""Schema checks that must not reject valid real-world schemas (JSONSchemaBench cases)."""
import pytest

from synthloom.errors import SchemaError
from synthloom.generators.schema_io import check_schema, require_object_root


def test_draft4_boolean_exclusive_bounds_are_not_numbers():
    schema = {"$schema": "http://json-schema.org/draft-04/schema#", "type": "object",
              "properties": {"n": {"type": "integer", "minimum": 1, "maximum": 10, "exclusiveMaximum": True},
                             "m": {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": 1}}}
    check_schema(schema, "s.json")  # satisfiable: 1 < n < 10, 0 < m <= 1


def test_real_contradiction_still_reported():
    with pytest.raises(SchemaError, match="minimum 5 is above maximum 1"):
        check_schema({"type": "object", "properties": {"n": {"minimum": 5, "maximum": 1}}}, "s.json")


def test_non_object_root_is_a_clear_schema_error():
    with pytest.raises(SchemaError, match="root type is array.*wrap it"):
        require_object_root({"type": "array", "items": {"type": "string"}}, "generate.schema")
    require_object_root({"type": ["object", "null"]}, "generate.schema")
    require_object_root({"properties": {"a": {}}}, "generate.schema")
