"""Chunk planning for every reference length, text and speed the settings allow (pure text)."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from worker import tts
from worker.audio import MIN_REF_SECONDS
from worker.schema import LIMITS
from worker.settings import Settings

LIMIT = Settings()
MAX_REF_SECONDS = 60.0  # the highest WORKER_MAX_REF_SECONDS accepts
assert Settings.from_env({"WORKER_MAX_REF_SECONDS": "60"}).max_ref_seconds == MAX_REF_SECONDS

# Words, spaces, ASCII and CJK punctuation, multi-byte letters: what chunking splits on and counts.
ALPHABET = st.sampled_from(
    list("abcdefghij  ,.;:!?") + list("，。！？；：") + ["é", "ж", "语", "音", "🙂", "\n", "\t"]
)
texts = st.text(ALPHABET, min_size=1, max_size=LIMIT.max_text_chars)
ref_texts = st.text(ALPHABET, min_size=1, max_size=LIMIT.max_text_chars)
ref_seconds = st.floats(MIN_REF_SECONDS, MAX_REF_SECONDS)
speeds = st.floats(*LIMITS["speed"])


def size(text: str) -> int:
    return len(text.encode("utf-8"))


@hsettings(max_examples=400, deadline=None)
@given(texts, ref_texts, ref_seconds, speeds)
def test_plan_covers_the_text_in_order_in_bounded_chunks(text, ref_text, seconds, speed):
    assume(text.strip())  # the schema refuses blank text
    chunks = tts.plan(text, ref_text, seconds, speed)
    # in order, nothing lost or added but whitespace
    assert "".join("".join(c.split()) for c in chunks) == "".join(text.split())
    assert all(c.strip() == c and c for c in chunks)  # none empty, none padded
    largest = tts.chunk_bytes(ref_text, seconds, speed)
    assert tts.MIN_CHUNK_BYTES <= largest <= tts.MAX_CHUNK_BYTES
    assert all(size(c) <= largest for c in chunks), [size(c) for c in chunks]
    # greedy packing: two neighbours never fit in one chunk, so the count is bounded
    assert len(chunks) <= 2 * size(text) / largest + 1


@hsettings(max_examples=200)
@given(st.integers(12, int(MAX_REF_SECONDS)), speeds, st.integers(5, 30))
def test_a_longer_reference_gets_the_chunks_of_a_12_s_one(seconds, speed, rate):
    """At the same pace, a reference of 12-60 s leaves as much room as f5_tts's 12 s clip.

    The old rule, (22 - seconds), gave chunks of one byte from 22 s on.
    """

    def largest(ref_seconds: int) -> int:
        return tts.chunk_bytes("x" * (rate * ref_seconds), ref_seconds, speed)

    assert largest(seconds) == largest(12) >= tts.MIN_CHUNK_BYTES


def test_a_long_reference_keeps_short_sentences_together():
    """Short sentences share chunks; alone, each under 10 bytes, f5_tts would speak it at 0.3x."""
    text = "Go on. " * 30
    at_12 = tts.plan(text, "x" * 180, 12.0, 1.0)  # 15 bytes per second of reference
    assert len(at_12) == 2
    for seconds in (21.8, 22.0, 30.0, 60.0):
        chunks = tts.plan(text, "x" * round(15 * seconds), seconds, 1.0)
        assert len(chunks) == len(at_12), (seconds, chunks)
        assert all(size(c) >= 10 for c in chunks)


def test_f5_tts_rule_is_kept_for_short_references():
    # 55 bytes in 3.8 s (the default voice): f5_tts gives int(55 / 3.8 * 18.2 * 1.0) = 263
    assert tts.chunk_bytes("x" * 55, 3.8, 1.0) == int(55 / 3.8 * (22 - 3.8))


@pytest.mark.torch
@hsettings(max_examples=300, deadline=None)
@given(st.text(ALPHABET, min_size=1, max_size=400), st.integers(20, 500))
def test_same_chunks_as_f5_tts_when_every_clause_fits(text, max_bytes):
    from f5_tts.infer.utils_infer import chunk_text

    assume(all(size(c) <= max_bytes for c in tts.CLAUSE.split(text)))
    ours = tts.plan_chunks(text, max_bytes)
    theirs = [c for c in chunk_text(text, max_chars=max_bytes) if c]  # it can emit ""
    assert ours == theirs
