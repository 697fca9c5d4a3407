"""Pretrained word vectors: word2vec learns from the company words keep, the vectors are
cached, they start the Embedding layer, and pretrained words may join the vocabulary."""

import json

import numpy as np
import pytest
from conftest import PROJECT_ROOT

from app.config import PretrainConfig
from app.text.vocab import Vocabulary
from app.training.pretrain import WordVectors, embedding_matrix, word_vectors


def two_topics(rows=400, seed=0):
    """Comments that each use words of one topic only: words of a topic share contexts."""
    rng = np.random.default_rng(seed)
    topics = [[f"a{i}" for i in range(8)], [f"b{i}" for i in range(8)]]
    return [list(rng.choice(topics[row % 2], size=10)) for row in range(rows)]


def cosine(vectors, first, second):
    a, b = (vectors.matrix[vectors.tokens.index(t)] for t in (first, second))
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def test_words_used_alike_get_similar_vectors():
    settings = PretrainConfig(unlabeled="unused", min_count=1, epochs=10, window=3)
    vectors = word_vectors(two_topics(), dim=16, pretrain=settings, seed=1, workers=1)
    assert vectors.matrix.shape == (16, 16) and vectors.matrix.dtype == np.float32
    assert cosine(vectors, "a0", "a1") > cosine(vectors, "a0", "b1") + 0.3
    assert cosine(vectors, "b2", "b3") > cosine(vectors, "b2", "a3") + 0.3


def test_vectors_are_cached_by_corpus_and_settings(tmp_path, caplog):
    caplog.set_level("INFO", logger="app")
    settings = PretrainConfig(unlabeled="unused", min_count=1, epochs=2)
    first = word_vectors(two_topics(), 8, settings, seed=1, workers=1, cache_dir=tmp_path)
    again = word_vectors(two_topics(), 8, settings, seed=1, workers=1, cache_dir=tmp_path)
    assert first.seconds > 0 and again.seconds == 0.0 and "read from the cache" in caplog.text
    assert again.tokens == first.tokens
    np.testing.assert_array_equal(again.matrix, first.matrix)
    other_corpus = word_vectors(two_topics(seed=5), 8, settings, seed=1, workers=1, cache_dir=tmp_path)
    other_window = word_vectors(two_topics(), 8, PretrainConfig(min_count=1, epochs=2, window=2), 1, 1, tmp_path)
    assert other_corpus.seconds > 0 and other_window.seconds > 0
    assert len(list(tmp_path.glob("word2vec-*.npy"))) == 3


def test_a_damaged_cache_is_retrained_not_trusted(tmp_path):
    settings = PretrainConfig(min_count=1, epochs=1)
    word_vectors(two_topics(), 8, settings, seed=1, workers=1, cache_dir=tmp_path)
    tokens_file = next(tmp_path.glob("word2vec-*.tokens"))
    tokens_file.write_text("a0\n", encoding="utf-8")  # fewer tokens than vectors
    assert word_vectors(two_topics(), 8, settings, seed=1, workers=1, cache_dir=tmp_path).seconds > 0
    vectors_file = next(tmp_path.glob("word2vec-*.npy"))
    vectors_file.write_bytes(vectors_file.read_bytes()[:100])  # cut short, as by a crash in an older save
    assert word_vectors(two_topics(), 8, settings, seed=1, workers=1, cache_dir=tmp_path).seconds > 0
    assert not list(tmp_path.glob("*.part"))  # the saves were complete


def test_the_embedding_starts_from_each_tokens_pretrained_vector():
    vectors = WordVectors(["좋다", "영화"], np.array([[1, 2], [3, 4]], dtype=np.float32), seconds=1.0)
    vocab = Vocabulary(["<pad>", "<oov>", "영화", "별로"])
    matrix, found = embedding_matrix(vectors, vocab, seed=0)
    assert found == 1 and matrix.shape == (4, 2)
    np.testing.assert_array_equal(matrix[0], [0, 0])  # padding
    np.testing.assert_array_equal(matrix[2], [3, 4])  # 영화 has a vector
    assert not np.allclose(matrix[3], 0) and not np.allclose(matrix[3], [1, 2])  # 별로: a random start


def test_pretrained_tokens_join_the_vocabulary_after_the_counted_ones_while_there_is_room():
    vocab = Vocabulary.fit([["좋다", "좋다", "영화"]], max_size=5, min_count=1, extra=["영화", "배우", "감독", "<oov>"])
    assert vocab.tokens == ["<pad>", "<oov>", "좋다", "영화", "배우"]


def test_train_py_pretrains_on_an_unlabeled_file_whose_words_join_the_vocabulary(tmp_path):
    """The three-class sample's comments stand in for a user's unlabeled comments."""
    from app.cli import train

    status = train.main(["--config", "tests/tiny.yaml", "--models-dir", str(tmp_path), "--name", "pretrained",
                         "--set", "pretrain.unlabeled=data/sample_3class.tsv", "--set", "pretrain.epochs=2",
                         "--set", "pretrain.min_count=1", "--set", "train.epochs=1"])
    assert status == 0
    metrics = json.loads((tmp_path / "pretrained" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["pretrain_seconds"] > 0
    # words only the unlabeled comments have joined the vocabulary, and the model takes them all
    from app.artifacts.run import SavedRun
    from app.data.readers import open_source, read_comments
    from app.text.tokenizer import Tokenizer

    labeled = read_comments(open_source(PROJECT_ROOT / "data" / "sample_binary.tsv"), "document")["document"]
    labeled_tokens = {t for tokens in Tokenizer("mecab", workers=1).tokenize(labeled.tolist()) for t in tokens}
    bundle = SavedRun.load(tmp_path / "pretrained")
    assert set(bundle.vocab.tokens) - labeled_tokens - {"<pad>", "<oov>"}
    assert bundle.model.get_layer("embedding").input_dim == len(bundle.vocab)


def test_data_max_rows_also_caps_the_unlabeled_comments_and_the_log_says_how_to_switch_off(tmp_path, capsys):
    """A small run stays small: 100 labeled rows do not pretrain on the whole unlabeled file."""
    from app.cli import train

    status = train.main(["--config", "tests/tiny.yaml", "--models-dir", str(tmp_path), "--name", "capped",
                         "--set", "pretrain.unlabeled=data/sample_3class.tsv", "--set", "pretrain.epochs=1",
                         "--set", "data.max_rows=100", "--set", "train.epochs=1"])
    assert status == 0
    out = capsys.readouterr().out
    assert "pretraining: 100 unlabeled comments from " in out and ", the first 100 (data.max_rows)" in out
    assert "--set pretrain.unlabeled=none switches pretraining off" in out


def test_a_missing_unlabeled_file_is_one_clear_line(tmp_path, capsys):
    from app.cli import train

    status = train.main(["--config", "tests/tiny.yaml", "--models-dir", str(tmp_path),
                         "--set", "pretrain.unlabeled=no/such/comments.txt"])
    assert status == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert error == ["error: pretrain.unlabeled: no/such/comments.txt: file not found"]
    assert not list(tmp_path.iterdir())


def test_compared_configs_must_pretrain_alike(tmp_path):
    from app.comparison.compare import check_comparable
    from app.config import load_config
    from app.errors import ConfigError

    path = PROJECT_ROOT / "tests" / "tiny.yaml"
    pretrained = ["pretrain.unlabeled=data/sample_3class.tsv"]
    with pytest.raises(ConfigError, match=r"pretrain\.unlabeled"):
        check_comparable([load_config(path), load_config(path, pretrained)], ["a.yaml", "b.yaml"])
    with pytest.raises(ConfigError, match=r"model\.embedding_dim is 32 but 16"):
        check_comparable([load_config(path, pretrained), load_config(path, [*pretrained, "model.embedding_dim=32"])],
                         ["a.yaml", "b.yaml"])


def test_without_the_nsmc_unlabeled_file_training_warns_and_starts_random(tmp_path, monkeypatch, capsys):
    """The shipped configs pretrain on nsmc:unlabeled, which e9t/nsmc does not publish:
    with only the labeled files of e9t/nsmc copied by hand, train.py still trains."""
    import app.paths
    from app.cli import train

    nsmc = tmp_path / "nsmc"  # e9t's labeled files, copied by hand: the full corpus without its unlabeled part
    nsmc.mkdir()
    (nsmc / "ratings_train.txt").write_text("id\tdocument\tlabel\n", encoding="utf-8")
    monkeypatch.setattr(app.paths, "nsmc_dirs", lambda: [nsmc])
    status = train.main(["--config", "tests/tiny.yaml", "--models-dir", str(tmp_path), "--name", "random-start",
                         "--set", "pretrain.unlabeled=nsmc:unlabeled", "--set", "train.epochs=1"])
    assert status == 0
    assert "unlabeled_reviews.txt not found in " in capsys.readouterr().err
    metrics = json.loads((tmp_path / "random-start" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["pretrain_seconds"] is None
