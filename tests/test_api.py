"""The Python API as users call it: the README's example runs as written, a Classifier
serves many threads and rebuilds itself in another process, and train() ends in a
saved run or one clear exception."""

import concurrent.futures
import multiprocessing
import pickle
import re
import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import PROJECT_ROOT, SAMPLE

from app import Classifier, Prediction, TrainingDiverged, load_config, train
from app.errors import ConfigError, DataError

COMMENTS = ["배우들 연기가 정말 좋았어요", "", "시간 아깝다 최악", "qqqzzz", "그냥 그랬다"]


def test_the_readme_python_example_runs_as_written(tmp_path, monkeypatch):
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    example = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    shutil.copytree(PROJECT_ROOT / "configs", tmp_path / "configs")
    monkeypatch.chdir(tmp_path)  # the example saves its run under models/ of the working directory
    namespace = {}
    exec(compile(example, "README.md", "exec"), namespace)
    assert list((tmp_path / "models").iterdir()), "the example saved no run"
    clf = namespace["clf"]
    assert clf.predict([""]) == [Prediction(None, None, None, "empty")]


def test_predictions_come_back_one_per_text_in_order_with_a_status(tiny_run):
    with Classifier.load(tiny_run, workers=1) as clf:
        predictions = clf.predict(COMMENTS)
    assert [p.status for p in predictions] == ["ok", "empty", "ok", "no_known_tokens", "ok"]
    first = predictions[0]
    assert first.label in clf.labels and set(first.probabilities) == set(clf.labels)
    assert first.confidence == max(first.probabilities.values())
    assert abs(sum(first.probabilities.values()) - 1) < 1e-5


def test_predict_frame_keeps_the_frame_and_adds_the_prediction_columns(tiny_run):
    frame = pd.DataFrame({"id": [3, 1, 2], "document": ["재밌어요", None, "별로"]}, index=[10, 20, 30])
    with Classifier.load(tiny_run, workers=1) as clf:
        result = clf.predict_frame(frame, text_column="document")
        with pytest.raises(DataError, match="text_column .review. is not a column"):
            clf.predict_frame(frame, text_column="review")
    assert result.columns.tolist() == ["id", "document", "label", "confidence", "p_negative", "p_positive", "status"]
    assert result["id"].tolist() == [3, 1, 2] and result["status"].tolist() == ["ok", "empty", "ok"]


def test_a_classifier_called_from_many_threads_gives_what_it_gives_alone(tiny_run):
    with Classifier.load(tiny_run, workers=1) as clf:
        alone = clf.predict_proba(COMMENTS)[0]
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(lambda _: clf.predict_proba(COMMENTS)[0], range(32)))
    for probabilities in results:
        np.testing.assert_allclose(probabilities, alone, atol=1e-6)


def _predict_in_worker(clf):
    return clf.predict_proba(COMMENTS)[0]


def test_a_large_chunk_is_scored_in_parts_of_pipeline_rows_in_order(tiny_run, monkeypatch):
    from app.inference import classifier as classifier_module

    texts = pd.read_csv(SAMPLE, sep="\t")["document"].tolist()[:50]
    frames = [pd.DataFrame({"document": texts[:23]}), pd.DataFrame({"document": []}, dtype=object),
              pd.DataFrame({"document": texts[23:]})]
    monkeypatch.setattr(classifier_module, "PIPELINE_ROWS", 10)
    with Classifier.load(tiny_run, workers=1) as clf:
        parts = list(clf.predict_chunks(frames, "document"))
        expected, _ = clf.predict_proba(texts)
    assert [len(chunk) for chunk, _, _ in parts] == [10, 10, 3, 0, 10, 10, 7]
    assert pd.concat([chunk for chunk, _, _ in parts])["document"].tolist() == texts
    np.testing.assert_allclose(np.concatenate([p for _, p, _ in parts]), expected, atol=1e-6)


def test_each_runtime_has_its_own_default_batch_size(exported_tiny_run):
    with Classifier.load(exported_tiny_run, workers=1) as keras_clf, \
         Classifier.load(exported_tiny_run, workers=1, runtime="onnx") as onnx_clf:
        assert (keras_clf.batch_size, onnx_clf.batch_size) == (1024, 128)


def test_a_classifier_pickles_as_its_path_and_rebuilds_in_another_process(tiny_run):
    with Classifier.load(tiny_run, workers=1) as clf:
        expected = clf.predict_proba(COMMENTS)[0]
        assert len(pickle.dumps(clf)) < 1000  # the path and settings, never the weights
        with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            in_worker = pool.submit(_predict_in_worker, clf).result(timeout=240)
    np.testing.assert_allclose(in_worker, expected, atol=1e-6)


def test_explain_returns_attributions_and_the_gate_trace_as_data(tiny_run):
    with Classifier.load(tiny_run, workers=1) as clf:
        explanation = clf.explain("그런데 생산직은 좋겠죠")
        with pytest.raises(DataError, match="nothing to explain"):
            clf.explain("   ")
    assert len(explanation.attribution.scores) == len(explanation.tokens) > 0
    assert set(explanation.trace.gates) == {"forget", "input", "output"}
    assert explanation.trace.hidden.shape[0] == len(explanation.tokens)


def test_train_returns_the_saved_run(tmp_path):
    config = load_config(PROJECT_ROOT / "tests" / "tiny.yaml",
                         ["train.epochs=1", "model.units=4", "model.embedding_dim=4", "data.max_rows=200"])
    run = train(config, models_dir=tmp_path, name="api")
    assert run.path == tmp_path / "api" and (run.path / "model.keras").is_file()
    assert 0 <= run.metrics["accuracy"] <= 1 and run.metrics["epochs_run"] == 1


def test_a_diverging_training_raises_training_diverged_and_saves_nothing(tmp_path):
    config = load_config(PROJECT_ROOT / "tests" / "tiny.yaml",
                         ["train.epochs=2", "model.units=4", "model.embedding_dim=4", "data.max_rows=200",
                          "model.activation=relu", "train.learning_rate=1e30", "train.optimizer=sgd"])
    with pytest.raises(TrainingDiverged, match="NaN/inf"):
        train(config, models_dir=tmp_path, name="nan")
    assert not (tmp_path / "nan").exists()


def test_a_bad_config_raises_config_error_before_any_training():
    with pytest.raises(ConfigError, match="model.cell = 'transformer' must be one of simple_rnn, lstm, gru"):
        load_config(PROJECT_ROOT / "tests" / "tiny.yaml", ["model.cell=transformer"])
