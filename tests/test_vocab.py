"""Vocabulary: ids by frequency, front padding, truncation, coverage statistics."""

import numpy as np

from app.text.vocab import OOV, PAD, Vocabulary

TOKENS = [["영화", "좋다"], ["영화", "별로"], ["영화", "좋다", "정말"]]


def test_fit_keeps_most_frequent_tokens_above_min_count():
    vocab = Vocabulary.fit(TOKENS, max_size=10, min_count=2)
    assert vocab.tokens == [PAD, OOV, "영화", "좋다"]
    assert len(Vocabulary.fit(TOKENS, max_size=3, min_count=1)) == 3


def test_encode_pads_at_the_front_and_maps_unknown_tokens_to_one():
    vocab = Vocabulary.fit(TOKENS, max_size=10, min_count=1)
    ids = vocab.encode([["영화", "처음"], []], max_length=4)
    assert ids.dtype == np.int32
    assert ids.tolist() == [[0, 0, vocab.index["영화"], 1], [0, 0, 0, 0]]


def test_truncate_says_which_end_of_a_long_comment_is_cut():
    vocab = Vocabulary(["<pad>", "<oov>", "a", "b", "c"])
    assert vocab.encode([["a", "b", "c"]], 2, truncate="start").tolist() == [[3, 4]]
    assert vocab.encode([["a", "b", "c"]], 2, truncate="end").tolist() == [[2, 3]]


def test_stats_report_coverage_and_oov_rate():
    vocab = Vocabulary.fit(TOKENS, max_size=10, min_count=2)
    stats = vocab.stats(TOKENS, max_length=2)
    assert stats["covered_whole"] == 2 / 3
    assert stats["oov_rate"] == 2 / 7  # 별로, 정말


def test_save_and_load_round_trip(tmp_path):
    vocab = Vocabulary.fit(TOKENS, max_size=10, min_count=1)
    vocab.save(tmp_path / "vocab.txt")
    assert Vocabulary.load(tmp_path / "vocab.txt").tokens == vocab.tokens
