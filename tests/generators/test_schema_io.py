"""Schema checks that must not reject valid real-world schemas (JSONSchemaBench cases)."""
import pytest

from synthloom.errors import RecipeError, SchemaError
from synthloom.generators.schema_io import (check_schema, object_root, require_named_fields, root_in_words,
                                           root_types)


def test_draft4_boolean_exclusive_bounds_are_not_numbers():
    schema = {"$schema": "http://json-schema.org/draft-04/schema#", "type": "object",
              "properties": {"n": {"type": "integer", "minimum": 1, "maximum": 10, "exclusiveMaximum": True},
                             "m": {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": 1}}}
    check_schema(schema, "s.json")  # satisfiable: 1 < n < 10, 0 < m <= 1


def test_real_contradiction_still_reported():
    with pytest.raises(SchemaError, match="minimum 5 is above maximum 1"):
        check_schema({"type": "object", "properties": {"n": {"minimum": 5, "maximum": 1}}}, "s.json")


def test_root_types_of_real_world_roots():
    assert root_types({"type": "array", "items": {"type": "string"}}) == {"array"}
    assert root_types({"type": ["object", "boolean"]}) == {"object", "boolean"}
    assert root_types({"enum": ["0.10.9"]}) == {"string"}
    assert root_types({"properties": {"a": {}}}) == set()
    assert not object_root({"type": "string", "pattern": "^[A-Z]{3}$"})
    assert object_root({"type": ["object", "null"]}) and object_root({"properties": {"a": {}}})
    assert root_in_words({"type": "object"}) is None and root_in_words({}) is None
    assert root_in_words({"type": "array"}) == "JSON array"
    assert root_in_words({"type": ["object", "boolean"]}) == "JSON value (boolean or object)"


def test_attribute_axes_on_a_root_without_fields_are_a_clear_recipe_error():
    with pytest.raises(RecipeError, match=r"generate.attributes \(tone\).*root is array, which has no named fields"):
        require_named_fields({"type": "array", "items": {"type": "string"}}, {"tone": ["calm"]})
    require_named_fields({"type": "array"}, {})  # no axes: nothing to pin
    require_named_fields({"type": ["object", "boolean"]}, {"tone": ["calm"]})  # the object branch has fields
