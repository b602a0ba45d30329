"""gate: reference: a planted near-copy of a real record is caught, a planted card number is flagged."""
import asyncio

import pytest

from synthloom.quality.base import GateContext
from synthloom.quality.reference import NgramIndex, ReferenceGate, find_pii, iban_ok, luhn_ok
from synthloom.records import Record, Rejection

REAL = ["I returned the dress on the 2nd, when will I see the money?",
        "The courier says delivered but there's nothing at my door.",
        "Forgot my password and the reset link has expired."]


def check(gate, text):
    return asyncio.run(gate.check(Record(data={"text": text, "label": "x"}), GateContext()))


def test_a_near_copy_of_a_real_record_is_rejected_and_a_new_text_passes():
    gate = ReferenceGate(REAL, fields=["text"])
    out = check(gate, "Hi! The courier says delivered but there's nothing at my door. Help?")
    assert isinstance(out, Rejection) and out.reason == "near_copy_of_real" and "real record #2" in out.detail
    ok = check(gate, "My parcel shows as delivered, yet the porch is empty.")
    assert isinstance(ok, Record) and ok.meta["scores"]["real_overlap"] == 0.0


def test_the_label_is_not_part_of_the_compared_text_and_short_texts_count_only_as_exact_copies():
    index = NgramIndex(["cancel it"])
    assert index.nearest("Cancel   it!")[0] == 1.0
    assert index.nearest("cancel it now please")[0] == 0.0


def test_embedding_similarity_catches_a_reworded_copy_when_asked():
    from synthloom.quality.embeddings import HashingEmbedder

    gate = ReferenceGate(REAL, fields=["text"], max_overlap=1.0, max_similarity=0.9, embedder=HashingEmbedder())
    out = check(gate, "I returned the dress on the 2nd; when will I see the money")
    assert isinstance(out, Rejection) and "cosine similarity" in out.detail


def test_luhn_and_iban_checks():
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert iban_ok("GB82 WEST 1234 5698 7654 32") and not iban_ok("GB82 WEST 1234 5698 7654 33")


@pytest.mark.parametrize("text, kind", [
    ("my card 4111 1111 1111 1111 was charged twice", "card"),
    ("write to jane.doe@example.com please", "email"),
    ("pay to GB82 WEST 1234 5698 7654 32 today", "iban"),
    ("call me on +44 20 7946 0958", "phone"),
    ("your phone number is 5198722741.", "phone"),
    ("SSN 123-45-6789 on file", "ssn"),
    ("my NI number is AB 12 34 56 C", "nino"),
])
def test_planted_pii_is_found(text, kind):
    assert kind in [f["kind"] for f in find_pii(text)]


def test_numbers_that_are_not_pii_are_left_alone():
    assert find_pii("order 4111 1111 1111 1112 and order 30417, total 64.99 on 2024-03-02") == []


def test_a_planted_card_number_is_flagged_or_rejected_unless_allowed():
    text = "Please refund card 4111-1111-1111-1111, the parcel never came."
    flagged = check(ReferenceGate(REAL, fields=["text"]), text)
    assert isinstance(flagged, Record) and flagged.meta["pii"][0]["kind"] == "card"
    rejected = check(ReferenceGate(REAL, fields=["text"], pii="reject"), text)
    assert isinstance(rejected, Rejection) and rejected.reason == "pii"
    allowed = check(ReferenceGate(REAL, fields=["text"], pii="reject", pii_allow=["4111 1111 1111 1111"]), text)
    assert isinstance(allowed, Record) and "pii" not in allowed.meta
