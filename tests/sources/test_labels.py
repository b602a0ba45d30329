"""The label set loader and target counts: what a user gets right, and a clear error for what they get wrong."""
from pathlib import Path

import pytest

from synthloom.errors import InputFileError, RecipeError
from synthloom.sources.labels import load_label_set, read_labelled, target_counts

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_the_example_label_set_loads_with_descriptions_examples_and_counter_examples():
    ls = load_label_set("labels/intents.yaml", EXAMPLES)
    assert ls.names == ["order_status", "refund_request", "cancel_order", "damaged_item", "account_access", "other"]
    assert ls.get("refund_request").counter_examples and ls.get("damaged_item").examples
    assert ls.task and not ls.multi_label
    assert ls.canonical("Refund-Request ") == "refund_request" and ls.canonical("nope") is None


def test_an_inline_list_is_a_label_set():
    ls = load_label_set([{"name": "pos", "description": "praise"}, {"name": "neg", "description": "complaint"}])
    assert ls.names == ["pos", "neg"]


@pytest.mark.parametrize("labels, message", [
    ([{"name": "only", "description": "one label"}], "at least two labels"),
    ([{"name": "a", "description": "x"}, {"name": "A", "description": "y"}], "duplicate label name 'A'"),
    ([{"name": "a", "description": "x"}, {"name": "b", "description": "  "}], "labels.1.description: the description is empty"),
    ([{"name": "a", "description": "x"}, {"name": "b", "descr": "y"}], "labels.1.descr: unknown field"),
    (["a", "b"], "labels.0: 'a' is not a label"),
])
def test_bad_label_sets_are_one_clear_error(tmp_path, labels, message):
    import yaml

    f = tmp_path / "labels.yaml"
    f.write_text(yaml.safe_dump({"labels": labels}))
    with pytest.raises(InputFileError) as exc:
        load_label_set(f)
    assert str(f) in str(exc.value) and message in str(exc.value)


def test_a_missing_label_file_names_the_path(tmp_path):
    with pytest.raises(InputFileError, match="nope.yaml: label set not found"):
        load_label_set(tmp_path / "nope.yaml")


def test_target_counts_add_up_and_a_rare_label_gets_exactly_its_share():
    names = ["common", "mid", "rare"]
    assert target_counts(names, 10, "balanced") == {"common": 4, "mid": 3, "rare": 3}
    counts = target_counts(names, 100, "weights", {"common": 16, "mid": 3, "rare": 1})
    assert counts == {"common": 80, "mid": 15, "rare": 5} and sum(counts.values()) == 100
    assert target_counts(names, 7, {"common": 5, "mid": 1, "rare": 1}) == {"common": 5, "mid": 1, "rare": 1}


def test_counts_that_do_not_add_up_or_name_unknown_labels_are_errors():
    with pytest.raises(RecipeError, match="add up to 6, but count is 7"):
        target_counts(["a", "b"], 7, {"a": 5, "b": 1})
    with pytest.raises(RecipeError, match="'c' not in the label set"):
        target_counts(["a", "b"], 2, {"a": 1, "c": 1})


def test_a_reference_file_without_the_named_field_is_an_error(tmp_path):
    f = tmp_path / "real.jsonl"
    f.write_text('{"text": "hello there", "label": "a"}\n{"body": "no text field", "label": "b"}\n')
    with pytest.raises(InputFileError, match=r"line 2 has no field 'text' \(fields: 'body', 'label'\)"):
        read_labelled(f, "text", "label")
    c = tmp_path / "real.csv"
    c.write_text("message,intent\nhi there,a\n")
    assert read_labelled(c, "message", "intent") == [{"message": "hi there", "intent": "a"}]
    with pytest.raises(InputFileError, match="has no field 'label'"):
        read_labelled(c, "message", "label")
