"""Splits: seeded, sized by the ratios, stratified, and never splitting near-duplicates."""
import pytest

from synthloom.errors import UsageError
from synthloom.export.splits import near_duplicate_groups, parse_ratios, split_rows

TOPICS = ("volcano tectonic plates magma", "penguin antarctic colony feathers", "sourdough starter flour yeast",
          "guitar chord fingering strum", "comet orbit tail nucleus", "tax deduction receipt refund",
          "marathon training pace mileage", "jazz saxophone improvisation bebop", "garden tomato compost mulch",
          "router wifi bandwidth latency")


def rows(n=100):
    out = []
    for i in range(n):
        words = TOPICS[i % 10].split()
        out.append({"instruction": f"Item {i}: write {i * 7 % 13} notes on {words[i % 4]} and {words[(i + 1) % 4]} "
                                   f"for reader {i} number {i * 31}",
                    "output": str(i), "label": "a" if i % 4 else "b"})
    return out


def test_parse_ratios():
    assert parse_ratios("0.8,0.1,0.1") == {"train": 0.8, "validation": 0.1, "test": 0.1}
    assert parse_ratios("0.9,0.1") == {"train": 0.9, "validation": 0.1}
    assert parse_ratios("1") == {"train": 1.0}
    assert parse_ratios("0.9,0,0.1") == {"train": 0.9, "test": 0.1}
    for bad in ("0.8,0.3", "a,b", "0.5,0.2,0.2,0.1", "-0.1,1.1"):
        with pytest.raises(UsageError):
            parse_ratios(bad)


def test_sizes_follow_ratios_and_cover_every_row_once():
    data = rows(100)
    s = split_rows(data, "0.8,0.1,0.1", seed=1, near_duplicate=1.0)
    assert [len(s[k]) for k in ("train", "validation", "test")] == [80, 10, 10]
    seen = [r["output"] for part in s.values() for r in part]
    assert sorted(seen) == sorted(r["output"] for r in data)


def test_seeded_and_seed_dependent():
    data = rows(60)
    a = split_rows(data, "0.8,0.1,0.1", seed=3)
    assert a == split_rows(data, "0.8,0.1,0.1", seed=3)
    assert a != split_rows(data, "0.8,0.1,0.1", seed=4)


def test_stratified_keeps_label_proportions():
    data = rows(200)  # 25% label b
    s = split_rows(data, "0.5,0.25,0.25", seed=0, stratify="label", near_duplicate=1.0)
    for part in s.values():
        share = sum(r["label"] == "b" for r in part) / len(part)
        assert 0.2 <= share <= 0.3
    with pytest.raises(UsageError, match="no record has this field"):
        split_rows(data, "0.8,0.2", stratify="nope")


def test_near_duplicates_stay_together():
    data = rows(60)
    # near-copies of row 5 and exact copies of row 9 with another output
    data += [{"instruction": data[5]["instruction"] + " please", "output": "dup5", "label": "a"},
             {"instruction": data[9]["instruction"], "output": "dup9", "label": "a"},
             {"instruction": data[5]["instruction"].upper(), "output": "dup5b", "label": "a"}]
    for seed in range(8):
        s = split_rows(data, "0.6,0.2,0.2", seed=seed)
        where = {r["output"]: name for name, part in s.items() for r in part}
        assert where["5"] == where["dup5"] == where["dup5b"]
        assert where["9"] == where["dup9"]


def test_groups_are_transitive():
    texts = ["a b c d e f g h i j", "a b c d e f g h x y", "a b c d e f q r x y", "totally different words here now"]
    groups = near_duplicate_groups(texts, 0.7)
    assert sorted(map(sorted, groups)) == [[0, 1, 2], [3]]


def test_tiny_input():
    s = split_rows([{"instruction": "only one here", "output": "x"}], "0.8,0.1,0.1")
    assert sum(len(v) for v in s.values()) == 1 and len(s["train"]) == 1
