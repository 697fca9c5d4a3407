"""Exported models give the Keras model's probabilities: ONNX (in onnxruntime, without
TensorFlow) for every cell, direction, depth and pooling, on the bundled sample's real
comments of every length, padding included; the SavedModel through its
serving_default signature; LiteRT, one comment at a time, in ai-edge-litert's
interpreter. A part a format cannot
express is refused with one line, and a changed export is refused at load."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from app.errors import BundleError
from tests.conftest import PROJECT_ROOT, SAMPLE

TOLERANCE = 1e-5

# (cell, bidirectional, layers, pooling, extra keys): every cell, both directions,
# stacked layers, every pooling, a hidden head, relu states, three classes; dropout
# (inactive when predicting, but its random state is part of the model)
MODELS = {
    "simple_rnn": ("simple_rnn", False, 1, "last", {}),
    "lstm": ("lstm", False, 1, "last", {}),
    "gru": ("gru", False, 1, "last", {}),
    "bidirectional_lstm": ("lstm", True, 1, "last", {}),
    "bidirectional_stacked_gru_max": ("gru", True, 2, "max", {"dropout": 0.2, "embedding_dropout": 0.1}),
    "bidirectional_simple_rnn_mean": ("simple_rnn", True, 1, "mean", {}),
    "stacked_lstm_max_mean_head": ("lstm", False, 2, "max_mean", {"head_units": 4}),
    "stacked_simple_rnn_relu_max": ("simple_rnn", False, 2, "max", {"activation": "relu"}),
    "gru_mean_three_classes": ("gru", False, 1, "mean", {"classes": 3}),
}


@pytest.fixture(scope="session")
def sample():
    """The sample's comments, its tokenizer and a vocabulary fitted on them."""
    import pandas as pd

    from app.text.tokenizer import Tokenizer
    from app.text.vocab import Vocabulary

    frame = pd.read_csv(SAMPLE, sep="\t", dtype=str)
    texts = frame["document"].tolist()
    tokenizer = Tokenizer("mecab", workers=1, cache=False)
    vocab = Vocabulary.fit(tokenizer.tokenize(texts), max_size=2000, min_count=1)
    long_comment = " ".join(texts[:12])  # longer than max_length: truncated as in training
    texts += [long_comment, "", "zzqx"]  # plus an empty comment and one with no known token
    return texts, tokenizer, vocab


def save_run(directory, sample, name, cell, bidirectional, layers, pooling, extra):
    """A SavedRun of a tiny model for these settings, its weights drawn wide so the
    probabilities spread over (0, 1) and a masking slip would show."""
    from app.artifacts.run import SavedRun
    from app.config import config_from_dict
    from app.data.readers import LabelSet
    from app.modeling.network import build_model

    _, tokenizer, vocab = sample
    extra = dict(extra)
    classes = extra.pop("classes", 2)
    model_keys = {"cell": cell, "bidirectional": bidirectional, "layers": layers, "pooling": pooling, "units": 4,
                  "embedding_dim": 4, **extra}
    config = config_from_dict({"tokenizer": {"backend": "mecab"}, "vocab": {"max_length": 30}, "model": model_keys})
    model = build_model(config.model, len(vocab), classes)
    rng = np.random.default_rng(7)
    model.set_weights([rng.normal(0, 0.8, w.shape).astype("float32") for w in model.get_weights()])
    labels = LabelSet.fit([str(i) for i in range(classes)])
    return SavedRun(model, config, tokenizer, vocab, labels).save(directory, name).path


@pytest.fixture(scope="module")
def runs(tmp_path_factory, sample):
    directory = tmp_path_factory.mktemp("export-models")
    return {name: save_run(directory, sample, name, *settings) for name, settings in MODELS.items()}


@pytest.mark.parametrize("name", list(MODELS))
def test_onnx_gives_the_keras_probabilities_for_every_cell_direction_depth_and_pooling(runs, sample, name):
    from app.export.formats import export_run
    from app.export.onnx_graph import INPUT
    from app.inference.classifier import Classifier
    from app.modeling.network import class_probabilities

    texts = sample[0]
    (onnx_file,) = export_run(runs[name], "onnx")
    assert onnx_file == runs[name] / "export" / "model.onnx"
    with Classifier.load(runs[name]) as keras_clf, Classifier.load(runs[name], runtime="onnx") as onnx_clf:
        assert onnx_clf.run.model is None and onnx_clf.runtime == "onnx"
        expected, status = keras_clf.predict_proba(texts)
        found, onnx_status = onnx_clf.predict_proba(texts)
        assert list(status) == list(onnx_status) and list(status[-2:]) == ["empty", "no_known_tokens"]
        scored = status == "ok"
        assert expected[scored].std() > 0.05  # spread out: a slip would show
        np.testing.assert_allclose(found[scored], expected[scored], atol=TOLERANCE)
        assert np.isnan(found[~scored]).all()
        # the whole padded width at once, all-padding rows included, straight into the graph
        _, ids = keras_clf.encode(texts)
        assert (ids == 0).any() and (ids != 0).all(axis=1).any()  # padded rows and a full one
        full_width = onnx_clf.exported.session.run(None, {INPUT: ids})[0]
        np.testing.assert_allclose(full_width, class_probabilities(keras_clf.run.model, ids, batch_size=len(ids)),
                                   atol=TOLERANCE)


def test_saved_runs_compared_with_runtime_onnx_score_as_with_keras(runs, tmp_path):
    from app.comparison.compare import compare_saved
    from app.export.formats import export_run

    paths = [str(runs["lstm"]), str(runs["bidirectional_lstm"])]
    for path in paths:
        export_run(path, "onnx")
    _, by_keras = compare_saved(paths, str(SAMPLE), tmp_path / "by-keras", "test")
    _, by_onnx = compare_saved(paths, str(SAMPLE), tmp_path / "by-onnx", "test", runtime="onnx")
    scores = lambda summary: [(run["run"], run["accuracy"], run["confusion_matrix"]) for run in summary["runs"]]
    assert scores(by_onnx) == scores(by_keras) and by_onnx["test_comments"] == 320


def test_the_savedmodel_serves_the_keras_probabilities_through_serving_default(runs, sample):
    import tensorflow as tf

    from app.export.formats import export_run
    from app.inference.classifier import Classifier
    from app.modeling.network import class_probabilities

    run = runs["bidirectional_stacked_gru_max"]
    files = export_run(run, "savedmodel")
    assert run / "export" / "saved_model" / "saved_model.pb" in files
    served = tf.saved_model.load(str(run / "export" / "saved_model")).signatures["serving_default"]
    assert set(served.structured_input_signature[1]) == {"token_ids"}
    with Classifier.load(run) as clf:
        _, ids = clf.encode(sample[0])
        expected = class_probabilities(clf.run.model, ids, batch_size=len(ids))
    found = served(token_ids=tf.constant(ids))["probabilities"].numpy()
    np.testing.assert_allclose(found, expected, atol=TOLERANCE)


@pytest.mark.parametrize("name", ["lstm", "bidirectional_stacked_gru_max"])
def test_litert_gives_the_keras_probabilities_one_padded_comment_at_a_time(runs, sample, name):
    from ai_edge_litert.interpreter import Interpreter

    from app.export.formats import export_run
    from app.inference.classifier import Classifier
    from app.modeling.network import class_probabilities

    (tflite_file,) = export_run(runs[name], "litert")
    with Classifier.load(runs[name]) as clf:
        _, ids = clf.encode(sample[0][::8])  # 41 comments of many lengths, padded to max_length
        expected = class_probabilities(clf.run.model, ids, batch_size=len(ids))
    interpreter = Interpreter(model_path=str(tflite_file))
    given, result = interpreter.get_input_details()[0]["index"], interpreter.get_output_details()[0]["index"]
    interpreter.resize_tensor_input(given, (1, ids.shape[1]))
    interpreter.allocate_tensors()
    found = []
    for row in ids:
        interpreter.set_tensor(given, row[None])
        interpreter.invoke()
        found.append(interpreter.get_tensor(result)[0])
    np.testing.assert_allclose(np.array(found), expected, atol=TOLERANCE)


def test_an_export_is_recorded_in_bundle_json_and_a_changed_file_is_refused(runs):
    from app.export.formats import export_run
    from app.inference.classifier import Classifier

    run = runs["lstm"]
    (onnx_file,) = export_run(run, "onnx")
    recorded = json.loads((run / "bundle.json").read_text())["exports"]["onnx"]
    assert list(recorded) == ["export/model.onnx"] and len(recorded["export/model.onnx"]) == 64
    onnx_file.write_bytes(onnx_file.read_bytes() + b"\0")
    with pytest.raises(BundleError, match=r"model.onnx: SHA-256 does not match bundle.json"):
        Classifier.load(run, runtime="onnx")
    export_run(run, "onnx")  # exporting again mends it
    Classifier.load(run, runtime="onnx").close()


def test_a_run_that_fails_its_checks_is_not_exported(runs, tmp_path):
    import shutil

    from app.export.formats import export_run

    damaged = tmp_path / "damaged"
    shutil.copytree(runs["gru"], damaged)
    with open(damaged / "model.keras", "ab") as handle:
        handle.write(b"\0")
    before = {file: file.read_bytes() for file in damaged.rglob("*") if file.is_file()}
    with pytest.raises(BundleError, match=r"model.keras: SHA-256 does not match bundle.json"):
        export_run(damaged, "litert")
    assert {file: file.read_bytes() for file in damaged.rglob("*") if file.is_file()} == before  # nothing written


def test_runtime_onnx_without_an_export_names_the_command_that_writes_one(tmp_path, sample):
    from app.inference.classifier import Classifier

    run = save_run(tmp_path, sample, "unexported", *MODELS["gru"])
    with pytest.raises(BundleError, match=r"has no onnx export.*python -m app.export --model .* --format onnx"):
        Classifier.load(run, runtime="onnx")
    with pytest.raises(ValueError, match="runtime must be one of keras, onnx, not 'torch'"):
        Classifier.load(run, runtime="torch")


def test_an_onnx_classifier_pickles_as_its_path_and_runtime(runs, sample):
    import pickle

    from app.export.formats import export_run
    from app.inference.classifier import Classifier

    export_run(runs["simple_rnn"], "onnx")
    with Classifier.load(runs["simple_rnn"], runtime="onnx") as clf, pickle.loads(pickle.dumps(clf)) as again:
        assert again.runtime == "onnx" and again.run.model is None
        np.testing.assert_array_equal(again.predict_proba(sample[0][:20])[0], clf.predict_proba(sample[0][:20])[0])


def test_a_large_input_is_scored_in_onnx_worker_processes_as_in_this_one(runs, sample, monkeypatch):
    import pandas as pd

    from app.data.readers import READ_STATUS
    from app.export.formats import export_run
    from app.inference import classifier as classifier_module
    from app.inference.classifier import Classifier

    run = runs["bidirectional_stacked_gru_max"]
    export_run(run, "onnx")
    texts = sample[0]
    unread = pd.DataFrame({"document": texts[100:], READ_STATUS: ""})
    unread.loc[unread.index[5], ["document", READ_STATUS]] = ["", "malformed_record"]
    frames = [pd.DataFrame({"document": texts[:100]}), pd.DataFrame({"document": []}, dtype=object), unread]
    monkeypatch.setattr(classifier_module, "PARALLEL_MIN", 150)  # rows from which the workers start
    monkeypatch.setattr(classifier_module, "WORKER_PART_ROWS", 40)
    with Classifier.load(run, runtime="onnx", workers=1) as alone:
        expected, expected_status = alone.predict_proba([*texts[:105], "", *texts[106:]])
        expected_status[105] = "malformed_record"
    with Classifier.load(run, runtime="onnx", workers=2) as clf:
        parts = list(clf.predict_chunks(frames, "document"))
        workers = list(clf._worker_pool._processes.values())
    assert len(workers) == 2 and not any(worker.is_alive() for worker in workers)  # closed with the classifier
    assert [len(part) for part, _, _ in parts] == [40, 40, 20, 0, 40, 40, 40, 40, 40, 23]
    assert pd.concat([part for part, _, _ in parts])["document"].tolist()[:100] == texts[:100]
    assert READ_STATUS not in parts[-1][0].columns
    np.testing.assert_allclose(np.concatenate([p for _, p, _ in parts]), expected, atol=1e-6)
    assert np.concatenate([s for _, _, s in parts]).tolist() == expected_status.tolist()


def test_a_killed_scoring_worker_is_one_clear_error_and_the_next_call_starts_new_ones(runs, sample, monkeypatch):
    import signal
    import time

    import pandas as pd

    from app.export.formats import export_run
    from app.inference import classifier as classifier_module
    from app.inference.classifier import Classifier

    export_run(runs["gru"], "onnx")
    frame = pd.DataFrame({"document": sample[0] * 3})
    monkeypatch.setattr(classifier_module, "PARALLEL_MIN", 100)
    monkeypatch.setattr(classifier_module, "WORKER_PART_ROWS", 40)
    with Classifier.load(runs["gru"], runtime="onnx", workers=2) as clf:
        parts = clf.predict_chunks([frame], "document")
        next(parts)
        os.kill(next(iter(clf._worker_pool._processes)), signal.SIGKILL)
        time.sleep(1)  # the pool sees its worker gone
        with pytest.raises(BundleError, match="a scoring worker process failed to start or was killed"):
            list(parts)
        again = list(clf.predict_chunks([frame], "document"))
    assert sum(len(part) for part, _, _ in again) == len(frame)


def test_a_small_input_is_scored_without_starting_workers(runs, sample):
    import pandas as pd

    from app.export.formats import export_run
    from app.inference.classifier import Classifier

    export_run(runs["lstm"], "onnx")
    with Classifier.load(runs["lstm"], runtime="onnx", workers=2) as clf:
        parts = list(clf.predict_chunks([pd.DataFrame({"document": sample[0]})], "document"))
        assert clf._worker_pool is None and sum(len(part) for part, _, _ in parts) == len(sample[0])


def test_explaining_needs_the_keras_runtime_and_says_so(runs):
    from app.export.formats import export_run
    from app.inference.classifier import Classifier

    export_run(runs["gru"], "onnx")
    with Classifier.load(runs["gru"], runtime="onnx") as clf, pytest.raises(BundleError, match="needs the Keras model"):
        clf.explain("배우들 연기가 정말 좋았어요")


def test_a_cell_onnx_has_no_op_for_is_refused_with_one_line(tmp_path, sample):
    import keras

    from app.export.formats import export_run
    from app.modeling.cells import CELLS, Cell, simple_rnn_formula, simple_rnn_steps

    @keras.saving.register_keras_serializable(package="kosent_export_tests")
    class JordanRNN(keras.layers.SimpleRNN):
        """A cell of the user's own: ONNX's RNN op is not known to compute it."""

    CELLS.register(Cell("jordan", "Jordan", lambda: JordanRNN, simple_rnn_formula, "u(i+u+1)", simple_rnn_steps))
    try:
        run = save_run(tmp_path, sample, "jordan", "jordan", False, 1, "last", {})
        with pytest.raises(BundleError, match=r"^onnx: layer 'jordan_1' is a JordanRNN; ONNX has recurrent ops for LSTM, "
                                              r"GRU and SimpleRNN only") as refused:
            export_run(run, "onnx")
    finally:
        CELLS.unregister("jordan")
    assert "\n" not in str(refused.value)
    assert not (run / "export" / "model.onnx").exists()
    assert "exports" not in json.loads((run / "bundle.json").read_text())


INT8_TOLERANCE = 0.02  # int8 weights: the probabilities move by hundredths, never by a wrong graph's tenths


@pytest.mark.parametrize("name", ["lstm", "bidirectional_lstm", "stacked_lstm_max_mean_head"])
def test_int8_onnx_runs_quantized_lstms_and_stays_close_to_keras(runs, sample, name, tmp_path):
    import shutil

    import onnx

    from app.export.formats import export_run
    from app.inference.classifier import Classifier
    from app.serving.api import model_info

    run = tmp_path / name
    shutil.copytree(runs[name], run)
    exported_before = {file.name for file in (run / "export").glob("*")}  # other tests' exports of this run
    (onnx_file,) = export_run(run, "onnx", quantize="int8")
    # the float32 graph it came from is gone
    assert {file.name for file in (run / "export").iterdir()} == exported_before | {"model.onnx"}
    assert list(json.loads((run / "bundle.json").read_text())["exports"]["onnx"]) == ["export/model.onnx"]
    graph = onnx.load(onnx_file).graph
    ops = {node.op_type for node in graph.node}
    assert "DynamicQuantizeLSTM" in ops and "LSTM" not in ops
    # 7-bit weights: a CPU without VNNI adds u8 x s8 pairs in 16 bits, which 8-bit weights overflow
    initializers = {tensor.name: onnx.numpy_helper.to_array(tensor) for tensor in graph.initializer}
    lstm_weights = [initializers[name] for node in graph.node if node.op_type == "DynamicQuantizeLSTM"
                    for name in node.input[1:3]]  # W and R
    assert lstm_weights and all(w.dtype == np.int8 and np.abs(w.astype(np.int16)).max() == 64 for w in lstm_weights)
    texts = sample[0]
    with Classifier.load(run) as keras_clf, Classifier.load(run, runtime="onnx") as onnx_clf:
        assert onnx_clf.exported.weights == model_info(onnx_clf)["weights"] == "int8"  # the server's /v1/model says so
        expected, status = keras_clf.predict_proba(texts)
        found, onnx_status = onnx_clf.predict_proba(texts)
    assert list(status) == list(onnx_status)
    scored = status == "ok"
    np.testing.assert_allclose(found[scored], expected[scored], atol=INT8_TOLERANCE)
    export_run(run, "onnx")  # without quantize: float32 again, exact
    with Classifier.load(run, runtime="onnx") as onnx_clf:
        assert onnx_clf.exported.weights == "float32"
        np.testing.assert_allclose(onnx_clf.predict_proba(texts)[0][scored], expected[scored], atol=TOLERANCE)


def test_int8_is_refused_for_cells_and_formats_without_an_int8_form(runs, tmp_path, capsys, monkeypatch):
    import shutil

    import keras

    from app.cli.export import parse_args
    from app.export.formats import export_run

    run = tmp_path / "gru"
    shutil.copytree(runs["gru"], run)

    def load_model(*args, **kwargs):
        raise AssertionError("the Keras model was loaded")

    monkeypatch.setattr(keras.saving, "load_model", load_model)  # the cell is refused before it loads
    before = {file: file.read_bytes() for file in run.rglob("*") if file.is_file()}
    with pytest.raises(BundleError, match=r"^onnx --quantize int8: onnxruntime has an int8 LSTM but no int8 gru"):
        export_run(run, "onnx", quantize="int8")
    assert {file: file.read_bytes() for file in run.rglob("*") if file.is_file()} == before  # nothing written
    with pytest.raises(ValueError, match=r"quantize='int8' applies to onnx only, not to format 'savedmodel'"):
        export_run(run, "savedmodel", quantize="int8")
    with pytest.raises(ValueError, match=r"quantize must be one of None, int8, not 'int4'"):
        export_run(run, "onnx", quantize="int4")
    with pytest.raises(SystemExit) as stopped:
        parse_args(["--model", str(run), "--format", "onnx", "--format", "litert", "--quantize", "int8"])
    assert stopped.value.code == 2
    assert "error: --quantize int8 applies to --format onnx only, not litert" in capsys.readouterr().err


def test_export_quantize_int8_then_predict_py_says_it_scores_with_int8_weights(runs, tmp_path, capsys):
    import shutil

    from app.cli import export, predict

    run = tmp_path / "lstm"
    shutil.copytree(runs["lstm"], run)
    assert export.main(["--model", str(run), "--format", "onnx", "--quantize", "int8"]) == 0
    assert f"exported onnx, int8 weights: {run / 'export' / 'model.onnx'}" in capsys.readouterr().err
    assert predict.main(["--model", str(run), "--runtime", "onnx", "--text", "배우들 연기가 정말 좋았어요"]) == 0
    said = capsys.readouterr().err
    assert f"scoring with {run / 'export' / 'model.onnx'}'s int8 weights (exported with --quantize)" in said


# TensorFlow and Keras cannot even be imported in the process that predicts
NO_TENSORFLOW = """
import importlib.abc, sys
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("tensorflow", "keras"):
            raise ImportError("the onnx runtime imported " + name)
sys.meta_path.insert(0, Refuse())
from app.cli.predict import main
status = main(sys.argv[1:])
assert status == 0, status
assert not [m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras")]
"""


def test_predict_py_with_runtime_onnx_never_imports_tensorflow(runs, tmp_path):
    run = runs["stacked_lstm_max_mean_head"]
    env = {**os.environ, "KOSENT_CACHE_DIR": str(tmp_path)}
    exported = subprocess.run([sys.executable, "-m", "app.export", "--model", str(run), "--format", "onnx"],
                              capture_output=True, text=True, env=env, cwd=PROJECT_ROOT)
    assert exported.returncode == 0, exported.stderr
    assert f"exported onnx: {run / 'export' / 'model.onnx'}" in exported.stderr
    output = tmp_path / "predictions.csv"
    predicted = subprocess.run([sys.executable, "-c", NO_TENSORFLOW, "--model", str(run), "--runtime", "onnx",
                                str(SAMPLE), "-o", str(output)], capture_output=True, text=True, env=env, cwd=PROJECT_ROOT)
    assert predicted.returncode == 0, predicted.stderr
    import pandas as pd

    frame = pd.read_csv(output)
    assert len(frame) == 320 and list(frame.columns[-5:]) == ["predicted_label", "confidence", "p_0", "p_1", "status"]
    assert set(frame["status"]) == {"ok"}


def test_predict_py_explain_with_runtime_onnx_is_a_usage_error():
    from app.cli.predict import parse_args

    with pytest.raises(SystemExit) as stopped:
        parse_args(["--model", "models/x", "--runtime", "onnx", "--explain", "--text", "좋아요"])
    assert stopped.value.code == 2
