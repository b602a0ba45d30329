"""Related chunks for multi-hop questions, retrieval for unanswerable checks, evidence sentences."""
from __future__ import annotations

from pathlib import Path

from synthloom.sources import ChunkOptions, load_corpus
from synthloom.sources.documents import Chunk
from synthloom.sources.related import TermIndex, sentences

KB = Path(__file__).resolve().parents[2] / "examples" / "docs" / "kb"


def chunk(doc, i, text):
    return Chunk(f"{doc}#{i}", doc, i, text)


def test_pairs_share_rare_terms_and_skip_neighbours():
    chunks = [
        chunk("a", 0, "The Enterprise plan includes single sign-on and audit logs."),
        chunk("a", 1, "Audit logs and single sign-on are also described in the Enterprise plan."),  # neighbour
        chunk("b", 0, "Single sign-on uses SAML with Okta on the Enterprise plan."),
        chunk("c", 0, "Bananas are yellow fruit rich in potassium."),
        chunk("d", 0, "Potatoes grow underground in cool climates."),
    ]
    pairs = TermIndex(chunks).related_pairs()
    got = {(chunks[a].id, chunks[b].id) for a, b, _, _ in pairs}
    assert ("a#0", "b#0") in got and ("a#1", "b#0") in got
    assert ("a#0", "a#1") not in got  # neighbouring chunks of one document share overlap, not facts
    assert not any("c#0" in p for p in got)  # nothing in common with anything
    a, b, score, shared = pairs[0]
    assert score > 0 and "sign-on" in shared


def test_search_ranks_by_shared_rare_terms():
    corpus = load_corpus(KB, options=ChunkOptions(1200, 100))
    index = TermIndex(corpus.chunks)
    hits = index.search("How many API requests per minute on the Team plan?", k=2)
    assert corpus.chunks[hits[0][0]].doc_id == "api-limits.html"
    pairs = index.related_pairs()
    assert pairs and all(corpus.chunks[a].doc_id != corpus.chunks[b].doc_id for a, b, _, _ in pairs[:10])


def test_sentences_skip_headings_and_fragments():
    text = "# Title\n\nFirst full sentence is here. Second one follows it closely!\n\n- A list item that is long enough\n- short"
    assert sentences(text) == ["First full sentence is here.", "Second one follows it closely!",
                               "A list item that is long enough"]
    assert sentences("No. Yes. " * 3) == []  # too short to be evidence


def test_sentences_do_not_end_at_a_title_or_initial():
    from synthloom.sources.related import sentences

    text = ("Our children's dentist, Dr. Okafor, sees patients on Fridays from nine. "
            "J. R. Hale founded the practice in 1990 with two chairs. "
            "We moved the surgery to the US. Then we added a third chair for hygiene visits.")
    assert sentences(text, min_chars=5) == [
        "Our children's dentist, Dr. Okafor, sees patients on Fridays from nine.",
        "J. R. Hale founded the practice in 1990 with two chairs.",
        "We moved the surgery to the US.",
        "Then we added a third chair for hygiene visits.",
    ]
