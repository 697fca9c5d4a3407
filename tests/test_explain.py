"""Looking inside the cells: the gradient norm logged while training, the gradient through
time of a model, and `python -m app.explain` as a user runs it."""

import csv
import json
import shutil

import numpy as np
from conftest import SAMPLE

from app.cli.explain import main
from app.config import EarlyStoppingConfig, ModelConfig, TrainConfig
from app.interpret.gradients import by_distance, gradient_norms
from app.modeling.network import build_model
from app.training.fit import GradientNormLogger, fit, set_seed


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def error_line(capsys):
    """The last line on stderr: progress lines may come before the error."""
    return capsys.readouterr().err.strip().splitlines()[-1]


# ----------------------------------------------------------------------------- during training

def test_training_logs_one_finite_positive_gradient_norm_per_epoch(tiny_run):
    norms = [float(row["grad_norm"]) for row in read_csv(tiny_run / "history.csv")]
    assert len(norms) == 2  # tiny_run trains 2 epochs
    assert all(np.isfinite(norms)) and min(norms) > 0


def test_logging_the_gradient_norm_changes_nothing_in_training(monkeypatch):
    """Dropout on the embeddings and in the cell draws new masks every batch: a gradient
    taken in training mode would use up random numbers and change every later mask."""
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 30, size=(96, 8)).astype("int32")
    y = (ids[:, -1] > 15).astype("int64")
    config = TrainConfig(epochs=3, batch_size=16, learning_rate=0.01, early_stopping=EarlyStoppingConfig(enabled=False))

    def train():
        set_seed(3)
        model = build_model(ModelConfig(cell="gru", embedding_dim=4, units=4, dropout=0.3, embedding_dropout=0.2), 30, 2)
        fitted = fit(model, (ids[:80], y[:80]), (ids[80:], y[80:]), config, 2)
        return fitted.history, fitted.model.get_weights()

    logged, logged_weights = train()
    monkeypatch.setattr(GradientNormLogger, "on_epoch_end", lambda self, epoch, logs=None: None)
    plain, plain_weights = train()
    assert len(logged["grad_norm"]) == 3 and "grad_norm" not in plain
    for key, values in plain.items():
        np.testing.assert_allclose(logged[key], values, rtol=0, atol=1e-6, err_msg=key)
    for logged_weight, plain_weight in zip(logged_weights, plain_weights):
        np.testing.assert_allclose(logged_weight, plain_weight, rtol=0, atol=1e-6)


# ----------------------------------------------------------------------------- through time

def test_the_curve_averages_real_tokens_by_distance_from_the_end():
    ids = np.array([[0, 5, 6],
                    [0, 0, 7]])
    norms = np.array([[9.0, 1.0, 2.0],  # 9: a padding step, never counted
                      [9.0, 9.0, 4.0]])
    mean_norm, comments = by_distance(norms, ids)
    assert mean_norm.tolist() == [3.0, 1.0]  # distance 0: (2 + 4) / 2; distance 1: the first comment's 1
    assert comments.tolist() == [2, 1]


def test_a_model_has_one_gradient_value_per_distance_whatever_the_padding():
    set_seed(0)
    model = build_model(ModelConfig(cell="simple_rnn", embedding_dim=4, units=4), 30, 2)
    lengths = [1, 3, 5, 5]
    ids = np.zeros((len(lengths), 8), dtype="int32")
    for row, length in enumerate(lengths):
        ids[row, 8 - length:] = np.arange(2, 2 + length)
    labels = np.array([0, 1, 0, 1])

    mean_norm, comments = by_distance(gradient_norms(model, ids, labels), ids)
    assert comments.tolist() == [4, 3, 3, 2, 2]  # one value per distance the longest comment reaches
    assert np.all(mean_norm > 0)
    wider = np.pad(ids, ((0, 0), (12, 0)))  # padding is masked: more of it changes nothing
    np.testing.assert_allclose(by_distance(gradient_norms(model, wider, labels), wider)[0], mean_norm, rtol=1e-5)


# ----------------------------------------------------------------------------- the command

def test_gradients_command_writes_the_figure_and_its_numbers(tiny_run, tmp_path, capsys):
    out = tmp_path / "figures" / "gradients.png"
    assert main(["gradients", "--model", str(tiny_run), "--data", str(SAMPLE), "--limit", "60", "--out", str(out)]) == 0
    assert out.stat().st_size > 0
    [model] = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))["models"]
    assert model["run"] == "tiny" and model["cell"] == "lstm" and model["comments"][0] == 60
    rows = read_csv(out.with_suffix(".csv"))
    assert [int(row["distance"]) for row in rows] == list(range(len(model["mean_norm"])))
    assert "LSTM (tiny)" in capsys.readouterr().out  # the table


def test_clipping_command_plots_the_logged_norms(tiny_run, tmp_path, capsys):
    out = tmp_path / "clipping.png"
    assert main(["clipping", "--model", str(tiny_run), "--out", str(out)]) == 0
    assert out.stat().st_size > 0
    assert "tiny" in capsys.readouterr().out


def test_a_missing_model_directory_is_one_line_naming_it(tmp_path, capsys):
    missing = tmp_path / "no-such-run"
    for command in (["gradients", "--data", str(SAMPLE)], ["clipping"]):
        assert main([*command, "--model", str(missing), "--out", str(tmp_path / "x.png")]) == 2
        assert error_line(capsys).startswith(f"error: {missing}: not a model directory")


def test_a_data_file_without_labels_is_one_line_naming_file_and_column(tiny_run, tmp_path, capsys):
    unlabeled = tmp_path / "unlabeled.tsv"
    unlabeled.write_text("document\n정말 재밌어요\n", encoding="utf-8")
    assert main(["gradients", "--model", str(tiny_run), "--data", str(unlabeled), "--out", str(tmp_path / "x.png")]) == 2
    line = error_line(capsys)
    assert line.startswith(f"error: {unlabeled}: no label column 'label'")


def test_a_run_without_logged_gradient_norms_is_one_line_naming_its_history(tiny_run, tmp_path, capsys):
    run = tmp_path / "old-run"
    shutil.copytree(tiny_run, run)
    rows = read_csv(run / "history.csv")
    with open(run / "history.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, [key for key in rows[0] if key != "grad_norm"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    assert main(["clipping", "--model", str(run), "--out", str(tmp_path / "x.png")]) == 2
    assert error_line(capsys).startswith(f"error: {run / 'history.csv'}: no grad_norm column")
    assert not (tmp_path / "x.png").exists()
