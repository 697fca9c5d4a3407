"""The benchmark's baselines (bench/baselines.py) on the bundled sample: the TF-IDF
feature union and the tutorial recipe's preprocessing, in seconds. The benchmark
runs themselves (bench/run.py) are not part of the test suite."""

import numpy as np
import pytest
from conftest import SAMPLE

from app.text.tokenizer import Tokenizer
from app.training.ngrams import tfidf_features
from bench.baselines import (
    STOPWORDS,
    TUTORIAL_LENGTH,
    read_split,
    train_tfidf,
    tutorial_sequences,
    tutorial_tokens,
    tutorial_vocabulary,
)


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    """The sample as a training file (first 240 rows) and a test file (the other 80)."""
    folder = tmp_path_factory.mktemp("baselines")
    header, *rows = SAMPLE.read_text(encoding="utf-8").rstrip("\n").split("\n")
    (folder / "train.tsv").write_text("\n".join([header, *rows[:240]]) + "\n", encoding="utf-8")
    (folder / "test.tsv").write_text("\n".join([header, *rows[240:]]) + "\n", encoding="utf-8")
    return read_split(folder / "train.tsv", folder / "test.tsv")


def test_tfidf_joins_character_1_to_4_grams_and_word_1_to_2_grams(split):
    (texts, _), _, _ = split
    features = tfidf_features()
    matrix = features.fit_transform(texts)
    (_, chars), (_, words) = features.transformer_list
    assert matrix.shape == (len(texts), len(chars.vocabulary_) + len(words.vocabulary_))
    assert {len(gram) for gram in chars.vocabulary_} == {1, 2, 3, 4}
    assert any(" " in gram for gram in chars.vocabulary_)  # character n-grams run across spaces
    assert {len(gram.split()) for gram in words.vocabulary_} == {1, 2}
    assert any(len(gram) == 1 for gram in words.vocabulary_)  # one-syllable words are kept


def test_tfidf_baseline_learns_the_sample(split):
    train, test, names = split
    result = train_tfidf(train, test, names)
    assert result["n"] == 80 and result["accuracy"] > 0.6


def test_tutorial_tokens_are_hangul_stems_without_stopwords():
    tokenizer = Tokenizer("okt", stem=True, workers=1, cache=False)
    tokens = tutorial_tokens(tokenizer, ["배우들 연기가 정말 좋았어요!! ^^ 10점 GOOD", "...", "좀 별로"])
    assert "좋다" in tokens[0] and "배우" in tokens[0]
    assert not {"!!", "^^", "10", "GOOD"} & set(tokens[0])  # only Hangul goes to Okt
    assert tokens[1] == [] and tokens[2] == ["별로"]
    assert not STOPWORDS & {token for comment in tokens for token in comment}


def test_tutorial_vocabulary_keeps_words_seen_three_times_most_frequent_first():
    vocabulary = tutorial_vocabulary([["영화", "최고"], ["영화", "최고", "별로"], ["영화", "최고"], ["영화", "별로"]])
    assert vocabulary == {"영화": 1, "최고": 2}  # 0 is padding; 별로 (twice) is left out


def test_tutorial_sequences_drop_unknown_words_and_pad_and_cut_at_the_front():
    vocabulary = {"영화": 1, "최고": 2}
    long = ["최고"] + ["영화"] * (TUTORIAL_LENGTH + 5)
    ids = tutorial_sequences([["영화", "별로", "최고"], long, []], vocabulary)
    assert ids.shape == (3, TUTORIAL_LENGTH)
    assert list(ids[0][-2:]) == [1, 2] and not ids[0][:-2].any()
    assert (ids[1] == 1).all()  # the start of a long comment is cut, as pad_sequences does
    assert not ids[2].any()


def test_read_split_indexes_test_labels_like_training_labels(split):
    (_, y), (_, y_test), names = split
    assert names == ["0", "1"]
    assert set(np.unique(y)) == set(np.unique(y_test)) == {0, 1}
