"""The pmi check on the bundled model: a real message of its label is kept, a synthetic text in another
domain's voice is rejected (benchmarks/text_fit.py measured both: PMI +1.10 and -0.10)."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from synthloom.quality.base import GateContext
from synthloom.quality.text_fit import LabelPmiGate
from synthloom.records import Record, Rejection
from synthloom.sources.labels import load_label_set

pytestmark = pytest.mark.model
DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "data"


def test_a_real_message_is_kept_and_an_off_label_text_rejected_on_the_bundled_model():
    gate = LabelPmiGate(load_label_set("library_labels.yaml", DATA))

    async def go():
        return await asyncio.gather(
            gate.check(Record(data={"text": "how far in advance can i book a group study room",
                                    "label": "room_booking"}), GateContext()),
            gate.check(Record(data={"text": "I bought a book at a library store. My parents are in the room there. "
                                    "I want to pay for it. I'd like to get the books for them. What should I do?",
                                    "label": "purchase_suggestion"}), GateContext()))

    kept, rejected = asyncio.run(go())
    assert isinstance(kept, Record) and kept.meta["scores"]["label_pmi"] > 0.5
    assert isinstance(rejected, Rejection) and rejected.reason == "pmi:off_label"
