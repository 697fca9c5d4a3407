"""Saved runs: a faithful round trip, atomic saves, and refusal of anything damaged or unsafe."""

import dataclasses
import json
import re
import shutil

import keras
import numpy as np
import pytest
import yaml

from app.artifacts.run import SavedRun, _sha256
from app.errors import BundleError
from app.inference.classifier import Classifier

COMMENTS = ["배우들 연기가 정말 좋았어요", "시간 아깝다", "그냥 그랬다"]


def copy_run(tiny_run, tmp_path):
    target = tmp_path / "run"
    shutil.copytree(tiny_run, target)
    return target


def rehash(run):
    """Record the edited files' SHA-256 in bundle.json, as an attacker can: the checks
    behind the checksums must hold on their own."""
    info = json.loads((run / "bundle.json").read_text(encoding="utf-8"))
    info["file_sha256"] = {name: _sha256(run / name) for name in info["file_sha256"]}
    info["model_sha256"] = info["file_sha256"]["model.keras"]
    (run / "bundle.json").write_text(json.dumps(info), encoding="utf-8")


def test_a_saved_run_holds_everything_predict_needs(tiny_run):
    names = {p.name for p in tiny_run.iterdir()}
    assert {"model.keras", "config.yaml", "tokenizer.json", "vocab.txt", "labels.json", "metrics.json",
            "params.json", "history.csv", "bundle.json"} <= names
    assert not any(name.endswith((".pkl", ".pickle", ".h5")) for name in names)
    assert json.loads((tiny_run / "labels.json").read_text(encoding="utf-8"))["names"] == ["negative", "positive"]
    assert json.loads((tiny_run / "tokenizer.json").read_text(encoding="utf-8"))["backend"] == "mecab"


def test_round_trip_gives_the_same_probabilities_alone_and_in_a_batch(tiny_run):
    bundle = SavedRun.load(tiny_run, workers=1)
    batch, status = Classifier(bundle).predict_proba(COMMENTS)
    assert list(status) == ["ok", "ok", "ok"]
    for i, comment in enumerate(COMMENTS):
        alone, _ = Classifier(bundle).predict_proba([comment])
        np.testing.assert_allclose(alone[0], batch[i], atol=1e-6)
    np.testing.assert_allclose(batch.sum(axis=1), 1.0, atol=1e-6)


def test_empty_comments_and_unknown_words_get_a_status_instead_of_a_label(tiny_run):
    bundle = SavedRun.load(tiny_run, workers=1)
    probabilities, status = Classifier(bundle).predict_proba(["", "   ", "qqqzzz", "정말 좋았어요"])
    assert list(status) == ["empty", "empty", "no_known_tokens", "ok"]
    assert np.isnan(probabilities[:3]).all() and not np.isnan(probabilities[3]).any()


def test_a_failed_save_leaves_nothing_behind(tiny_run, tmp_path):
    bundle = SavedRun.load(tiny_run, workers=1)

    def crash(directory):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        dataclasses.replace(bundle, history={"loss": [1.0]}).save(tmp_path, "crashed", plots=[crash])
    assert list(tmp_path.iterdir()) == []


def test_a_taken_run_name_gets_a_suffix_instead_of_mixing_files(tiny_run, tmp_path):
    bundle = SavedRun.load(tiny_run, workers=1)
    paths = [dataclasses.replace(bundle, history={"loss": [1.0]}).save(tmp_path, "same").path
             for _ in range(2)]
    assert [p.name for p in paths] == ["same", "same-2"]


def test_a_directory_that_is_not_a_run_is_refused(tmp_path):
    with pytest.raises(BundleError, match="not a model directory"):
        SavedRun.load(tmp_path / "nowhere")
    with pytest.raises(BundleError, match="missing bundle.json"):
        SavedRun.load(tmp_path)


def test_a_missing_file_is_named(tiny_run, tmp_path):
    run = copy_run(tiny_run, tmp_path)
    (run / "vocab.txt").unlink()
    with pytest.raises(BundleError, match="missing vocab.txt"):
        SavedRun.load(run)


def test_a_truncated_model_file_is_refused_by_its_checksum(tiny_run, tmp_path):
    run = copy_run(tiny_run, tmp_path)
    data = (run / "model.keras").read_bytes()
    (run / "model.keras").write_bytes(data[: len(data) // 2])
    with pytest.raises(BundleError, match="SHA-256 does not match"):
        SavedRun.load(run)


@pytest.mark.parametrize("name", ["labels.json", "tokenizer.json", "config.yaml", "vocab.txt"])
def test_every_file_prediction_reads_is_checked_against_its_sha256(tiny_run, tmp_path, name):
    run = copy_run(tiny_run, tmp_path)
    if name == "labels.json":  # the worst edit: the two names swapped would invert every prediction
        labels = json.loads((run / name).read_text(encoding="utf-8"))
        labels["names"].reverse()
        (run / name).write_text(json.dumps(labels), encoding="utf-8")
    else:
        (run / name).write_text((run / name).read_text(encoding="utf-8") + "\n", encoding="utf-8")
    with pytest.raises(BundleError, match=rf"{name}: SHA-256 does not match bundle.json; the file was changed or damaged"):
        SavedRun.load(run)


def test_a_tokenizer_other_than_the_vocabularys_is_refused(tiny_run, tmp_path):
    run = copy_run(tiny_run, tmp_path)
    settings = json.loads((run / "tokenizer.json").read_text(encoding="utf-8"))
    (run / "tokenizer.json").write_text(json.dumps({**settings, "backend": "char"}), encoding="utf-8")
    rehash(run)
    with pytest.raises(BundleError, match=r"tokenizer.json: backend 'char' is not the 'mecab' the run's vocabulary was built with"):
        SavedRun.load(run)


def test_a_config_edited_to_an_unknown_cell_is_refused(tiny_run, tmp_path):
    run = copy_run(tiny_run, tmp_path)
    config = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8"))
    config["model"]["cell"] = "transformer"
    (run / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    rehash(run)
    with pytest.raises(BundleError, match="model.cell = 'transformer' must be one of simple_rnn, lstm, gru"):
        SavedRun.load(run)


def test_a_vocabulary_that_does_not_fit_the_embedding_is_refused(tiny_run, tmp_path):
    run = copy_run(tiny_run, tmp_path)
    lines = (run / "vocab.txt").read_text(encoding="utf-8").split("\n")
    (run / "vocab.txt").write_text("\n".join(lines[:-2]) + "\n", encoding="utf-8")
    rehash(run)
    with pytest.raises(BundleError, match="vocab.txt has .* tokens but the model's embedding expects"):
        SavedRun.load(run)


def test_labels_that_do_not_fit_the_output_are_refused(tiny_run, tmp_path):
    run = copy_run(tiny_run, tmp_path)
    (run / "labels.json").write_text(json.dumps({"values": ["0", "1", "2"], "names": ["a", "b", "c"]}), encoding="utf-8")
    rehash(run)
    with pytest.raises(BundleError, match="labels.json has 3 classes but the model outputs 2"):
        SavedRun.load(run)


def test_a_model_with_a_lambda_layer_is_refused_and_not_executed(tiny_run, tmp_path):
    run = copy_run(tiny_run, tmp_path)
    marker = tmp_path / "executed"
    inputs = keras.Input((30,), dtype="int32")
    x = keras.layers.Embedding(20, 2, name="embedding")(inputs)
    x = keras.layers.Lambda(lambda t: t * 2)(x)
    outputs = keras.layers.Dense(1)(keras.layers.Flatten()(x))
    keras.Model(inputs, outputs).save(run / "model.keras")
    rehash(run)  # an attacker can fix the checksum too
    with pytest.raises(BundleError, match="cannot be loaded safely"):
        SavedRun.load(run)
    assert not marker.exists()


@pytest.mark.parametrize("cell", ["simple_rnn", "lstm", "gru"])
def test_each_cell_predicts_the_same_alone_in_a_batch_and_after_a_round_trip(cell, tiny_config, tmp_path):
    import dataclasses

    from app.artifacts.run import SavedRun
    from app.data.readers import LabelSet
    from app.modeling.network import build_model
    from app.text.tokenizer import Tokenizer
    from app.text.vocab import Vocabulary

    config = dataclasses.replace(tiny_config, model=dataclasses.replace(tiny_config.model, cell=cell, pooling="max_mean"))
    tokenizer = Tokenizer("mecab", workers=1, cache=False)
    vocab = Vocabulary.fit(tokenizer.tokenize(COMMENTS), max_size=50, min_count=1)
    labels = LabelSet.fit(["0", "1"], {"0": "negative", "1": "positive"})
    model = build_model(config.model, len(vocab), 2)
    in_memory = SavedRun(model, config, tokenizer, vocab, labels, {}, path=tmp_path)
    batch, _ = Classifier(in_memory).predict_proba(COMMENTS)
    path = dataclasses.replace(in_memory, history={"loss": [1.0]}).save(tmp_path, cell).path
    loaded = SavedRun.load(path, workers=1)
    np.testing.assert_allclose(Classifier(loaded).predict_proba(COMMENTS)[0], batch, atol=1e-6)
    for i, comment in enumerate(COMMENTS):
        np.testing.assert_allclose(Classifier(loaded).predict_proba([comment])[0][0], batch[i], atol=1e-6)


def test_nothing_in_the_project_loads_models_unsafely():
    from conftest import PROJECT_ROOT

    sources = [*PROJECT_ROOT.glob("app/**/*.py"), PROJECT_ROOT / "train.py", PROJECT_ROOT / "predict.py"]
    for path in sources:
        text = path.read_text(encoding="utf-8")
        for unsafe in ("safe_mode=False", "import pickle", "allow_pickle=True", "load_weights(", '.h5"'):
            assert unsafe not in text, (path, unsafe)


def test_chunks_predicted_while_the_next_is_tokenized_come_back_whole_and_in_order(tiny_run):
    import pandas as pd

    from app.inference.classifier import Classifier

    bundle = SavedRun.load(tiny_run)
    texts = ["정말 재밌어요", "", "최악의 영화", "배우 연기 좋았다", "ㅋㅋㅋ", "시간 아깝다", "zzz"]
    chunks = [pd.DataFrame({"document": texts[i:i + 3]}, dtype=object) for i in range(0, len(texts), 3)]
    results = list(Classifier(bundle).predict_chunks(chunks, "document"))
    assert [chunk["document"].tolist() for chunk, _, _ in results] == [c["document"].tolist() for c in chunks]
    probabilities = np.concatenate([p for _, p, _ in results])
    status = np.concatenate([s for _, _, s in results])
    expected_probabilities, expected_status = Classifier(bundle).predict_proba(texts)
    np.testing.assert_allclose(probabilities, expected_probabilities, atol=1e-6)
    assert status.tolist() == expected_status.tolist()


def test_an_error_reading_a_later_chunk_reaches_the_caller_after_the_earlier_ones(tiny_run):
    import pandas as pd

    from app.errors import DataError
    from app.inference.classifier import Classifier

    def chunks():
        yield pd.DataFrame({"document": ["좋아요"]}, dtype=object)
        raise DataError("comments.tsv: line 2: bad bytes")

    predicted = Classifier(SavedRun.load(tiny_run)).predict_chunks(chunks(), "document")
    assert next(predicted)[0]["document"].tolist() == ["좋아요"]
    with pytest.raises(DataError, match="line 2"):
        next(predicted)


@pytest.mark.parametrize("version, says", [(99, "a newer run format"), (0, "an older or unknown run format")])
def test_a_run_of_another_format_version_is_refused_saying_which(tiny_run, tmp_path, version, says):
    run = tmp_path / "other-format"
    shutil.copytree(tiny_run, run)
    info = json.loads((run / "bundle.json").read_text(encoding="utf-8"))
    (run / "bundle.json").write_text(json.dumps({**info, "format_version": version}), encoding="utf-8")
    with pytest.raises(BundleError, match=rf"format_version {version} is {says} than this version of kosent reads \(1\)"):
        SavedRun.load(run)


def test_a_mistyped_run_path_names_the_saved_runs_that_are_close(tiny_run):
    typo = tiny_run.parent / "tinny"
    with pytest.raises(BundleError, match=rf"did you mean {re.escape(str(tiny_run))}\?"):
        SavedRun.load(typo)
