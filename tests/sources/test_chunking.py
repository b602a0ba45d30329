"""Chunking: sizes, overlap, paragraph and heading boundaries, heading paths, and a 10 MB document."""
from __future__ import annotations

import time
import tracemalloc

from synthloom.sources import ChunkOptions, iter_chunks, load_corpus
from synthloom.sources.chunking import chunk_lines, split_long

DOC = """# Guide

Intro paragraph. It has two sentences.

## Billing

{billing}

## Refunds

Refunds take five days.

### Exceptions

No refunds for add-ons.
"""


def chunks_of(text, **kw):
    return list(chunk_lines(text.splitlines(), **kw))


def test_small_document_is_one_chunk_with_its_heading_path():
    out = chunks_of("# Title\n\nShort body.\n\nAnother paragraph.", size=500, overlap=50)
    assert len(out) == 1
    assert out[0].text == "# Title\n\nShort body.\n\nAnother paragraph."
    assert out[0].heading_path == ("Title",) and out[0].index == 0 and out[0].start == 0


def test_sections_start_new_chunks_and_keep_heading_paths():
    billing = " ".join(f"Billing sentence number {i} is here." for i in range(12))
    out = chunks_of(DOC.format(billing=billing), size=400, overlap=60)
    assert all(len(c.text) <= 400 for c in out)
    paths = [c.heading_path for c in out]
    assert ("Guide", "Billing") in paths
    refunds = [c for c in out if "Refunds take five days." in c.text]
    assert refunds and refunds[0].heading_path == ("Guide", "Refunds")
    assert refunds[0].text.startswith("## Refunds")  # a heading opens its chunk, no tail of Billing before it
    exceptions = [c for c in out if "No refunds for add-ons." in c.text][0]
    # a tiny section stays with its parent; the chunk's path is where it starts
    assert "### Exceptions" in exceptions.text
    assert [c.index for c in out] == list(range(len(out)))


def test_long_paragraph_is_cut_at_sentences_with_overlap():
    para = " ".join(f"Sentence {i} says something specific." for i in range(60))
    out = chunks_of(para, size=300, overlap=80)
    assert len(out) > 5 and all(len(c.text) <= 300 for c in out)
    for prev, nxt in zip(out, out[1:]):
        assert nxt.text.split("\n\n")[0] in prev.text  # the carried tail repeats the end of the previous chunk
        assert prev.text.rstrip().endswith(".")  # cut at a sentence end
    # every sentence survives
    joined = " ".join(c.text for c in out)
    assert all(f"Sentence {i} says" in joined for i in range(60))


def test_paragraphs_are_not_split_when_they_fit():
    paras = [f"Paragraph {i} " + "word " * 30 for i in range(10)]
    out = chunks_of("\n\n".join(paras), size=500, overlap=0)
    for c in out:
        for piece in c.text.split("\n\n"):
            assert piece.strip() in [p.strip() for p in paras]


def test_tokens_unit_is_four_chars_per_token():
    para = "word " * 2000
    out = chunks_of(para, size=100, overlap=0, unit="tokens")
    assert all(len(c.text) <= 400 for c in out) and max(len(c.text) for c in out) > 300


def test_split_long_cuts_at_spaces_or_hard():
    assert split_long("a" * 25, 10) == ["a" * 10, "a" * 10, "a" * 5]
    assert all(len(p) <= 10 for p in split_long("abc defg hij klmno pq rstu", 10))


def test_setext_headings():
    out = chunks_of("Title\n=====\n\nBody text.\n\nSub\n---\n\nMore.", size=1000, overlap=0)
    assert out[0].heading_path == ("Title",)
    assert "# Title" in out[0].text and "## Sub" in out[0].text


def write_big(path, mb=10):
    para = ("The quarterly report lists revenue, costs and staff numbers for each region. "
            "Regional managers confirm the figures before publication. ") * 4
    target = mb * 1024 * 1024
    with open(path, "w") as fh:
        n = 0
        i = 0
        while n < target:
            block = f"## Section {i}\n\n{para}\n\n{para}\n\n" if i % 10 == 0 else f"{para}\n\n"
            fh.write(block)
            n += len(block)
            i += 1
    return n


def test_ten_megabyte_document_streams_with_bounded_memory(tmp_path):
    size = write_big(tmp_path / "big.md")
    opts = ChunkOptions(size=2000, overlap=200)
    tracemalloc.start()
    t0 = time.perf_counter()
    count = total = 0
    longest = 0
    for c in iter_chunks(tmp_path, options=opts):
        count += 1
        total += len(c.text)
        longest = max(longest, len(c.text))
    elapsed = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert total >= size * 0.95  # every paragraph made it into a chunk
    assert longest <= 2000 and count > size // 2000
    assert peak < 2 * 1024 * 1024, f"streaming peak {peak / 1e6:.1f} MB for a {size / 1e6:.0f} MB document"
    assert elapsed < 60


def test_ten_megabyte_single_line_document(tmp_path):
    (tmp_path / "line.txt").write_text("word " * (2 * 1024 * 1024))  # 10 MB, no newline at all
    tracemalloc.start()
    corpus = load_corpus(tmp_path, options=ChunkOptions(size=4000, overlap=0))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    text_bytes = sum(len(c.text) for c in corpus.chunks)
    assert text_bytes >= 10 * 1024 * 1024 * 0.99
    assert all(len(c.text) <= 4000 for c in corpus.chunks)
    # the chunks themselves are the one copy kept; reading adds little on top
    assert peak < text_bytes + 16 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"
