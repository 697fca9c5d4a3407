"""The two commands as a user runs them: train.py on the bundled sample, predict.py on files,
--text and standard input. Each subprocess pays TensorFlow's import, so they are few."""

import csv
import json
import os
import subprocess
import sys

import pandas as pd
import pytest
from conftest import PROJECT_ROOT


def run(*args, stdin=None):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, *args], cwd=PROJECT_ROOT, input=stdin, capture_output=True,
                          text=True, encoding="utf-8", env=env, timeout=300)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    models = tmp_path_factory.mktemp("cli-models")
    result = run("train.py", "--config", "configs/quick3.yaml", "--set", "train.epochs=2",
                 "--set", "model.units=8", "--models-dir", str(models), "--name", "cli")
    assert result.returncode == 0, result.stderr
    return models / "cli", result.stdout


def test_train_reports_parameters_tokenizing_speed_and_metrics(trained):
    run_dir, output = trained
    assert "gru_1" in output and "3(u(i+u)+2u)" in output and "NO" not in output.split("total parameters")[0]
    assert "comments/s" in output
    assert "OOV rate" in output and "fit whole in max_length 30" in output
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert {"accuracy", "macro_f1", "params"} <= set(metrics)
    assert metrics["roc_auc"] is None  # three classes
    assert json.loads((run_dir / "labels.json").read_text(encoding="utf-8"))["names"] == ["negative", "neutral", "positive"]
    assert (run_dir / "learning_curves.png").stat().st_size > 0
    assert not [p for p in run_dir.parent.iterdir() if p.name.startswith(".")]  # no staging left


def test_predict_keeps_every_row_in_order_with_its_columns(trained, tmp_path):
    run_dir, _ = trained
    source = tmp_path / "comments.tsv"
    source.write_text("id\tdocument\textra\n7\t정말 재밌어요\tx\n8\t\ty\n9\t\"최악\" 이라는 말도 아깝다\tz\n", encoding="utf-8")
    output = tmp_path / "out" / "predictions.csv"
    result = run("predict.py", "--model", str(run_dir), str(source), "-o", str(output))
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(output, dtype=str, keep_default_na=False)
    assert frame["id"].tolist() == ["7", "8", "9"]
    assert frame["document"].tolist() == ["정말 재밌어요", "", "\"최악\" 이라는 말도 아깝다"]
    assert frame.columns.tolist() == ["id", "document", "extra", "label", "confidence",
                                      "p_negative", "p_neutral", "p_positive", "status"]
    assert frame["status"].tolist() == ["ok", "empty", "ok"]
    assert frame.loc[1, "label"] == "" and frame.loc[0, "label"] in {"negative", "neutral", "positive"}


def test_predict_text_and_stdin(trained):
    run_dir, _ = trained
    result = run("predict.py", "--model", str(run_dir), "--text", "배우들 연기가 정말 좋았어요", "--text", "시간 아깝다")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(result.stdout.splitlines()))
    assert [r["document"] for r in rows] == ["배우들 연기가 정말 좋았어요", "시간 아깝다"]
    assert all(abs(sum(float(r[f"p_{n}"]) for n in ("negative", "neutral", "positive")) - 1) < 1e-4 for r in rows)

    piped = run("predict.py", "--model", str(run_dir), stdin="재밌다\r\n\r\n최악\r\n")
    assert piped.returncode == 0, piped.stderr
    rows = list(csv.DictReader(piped.stdout.splitlines()))
    assert [r["document"] for r in rows] == ["재밌다", "", "최악"]
    assert [r["status"] for r in rows] == ["ok", "empty", "ok"]


def test_predict_evaluate_prints_metrics_from_the_label_column(trained, tmp_path):
    run_dir, _ = trained
    output = tmp_path / "p.jsonl"
    result = run("predict.py", "--model", str(run_dir), "data/sample_3class.tsv", "--evaluate", "-o", str(output))
    assert result.returncode == 0, result.stderr
    assert "accuracy" in result.stderr and "macro-F1" in result.stderr
    records = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 300 and records[0]["id"] == "1"
    assert "predicted_label" in records[0] and records[0]["label"] in {"0", "1", "2"}  # the input's own label kept


def test_bad_config_stops_before_reading_data_with_one_line(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("model:\n  unitz: 3\n", encoding="utf-8")
    result = run("train.py", "--config", str(config))
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {config}: model.unitz is not a known key (did you mean model.units?)"
    result = run("train.py", "--config", "tests/tiny.yaml", "--set", "model.dropout=1.5")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: --set model.dropout=1.5: model.dropout = 1.5 must be in [0, 1)"


def test_predict_refuses_a_directory_that_is_not_a_model(tmp_path):
    result = run("predict.py", "--model", str(tmp_path), "--text", "좋다")
    assert result.returncode == 2
    assert result.stderr.strip().startswith(f"error: {tmp_path}: not a complete model directory")


def test_predict_prints_no_tensorflow_start_up_line_unless_verbose(trained):
    run_dir, _ = trained
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TF_", "KOSENT_VERBOSE"))}
    quiet = subprocess.run([sys.executable, "predict.py", "--model", str(run_dir), "--text", "좋아요"], cwd=PROJECT_ROOT,
                           capture_output=True, text=True, encoding="utf-8", env=env, timeout=300)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr.splitlines() == [line for line in quiet.stderr.splitlines() if line.startswith("predicted 1 comment in ")]
    verbose = subprocess.run([sys.executable, "predict.py", "--model", str(run_dir), "--text", "좋아요", "--verbose"],
                             cwd=PROJECT_ROOT, capture_output=True, text=True, encoding="utf-8", env=env, timeout=300)
    assert verbose.returncode == 0
    assert len(verbose.stderr.splitlines()) > len(quiet.stderr.splitlines())  # TensorFlow's own lines come through


def test_train_takes_the_columns_the_test_file_and_the_label_names_as_flags():
    from app.cli.train import data_overrides, parse_args
    from app.config import load_config

    args = parse_args(["--data", "reviews.csv", "--test", "test.csv", "--text-column", "리뷰", "--label-column", "평점",
                       "--label-names", "{부정: negative, 긍정: positive}", "--set", "data.text_column=본문"])
    data = load_config("tests/tiny.yaml", data_overrides(args) + args.set).data
    assert (data.train, data.test, data.label_column) == ("reviews.csv", "test.csv", "평점")
    assert data.text_column == "본문"  # --set has the last word
    assert data.label_names == {"부정": "negative", "긍정": "positive"}


def test_every_missing_file_a_config_names_is_listed_at_once_before_tensorflow_loads(tmp_path):
    code = ("import sys; from app.cli import train; "
            f"status = train.main(['--config', 'tests/tiny.yaml', '--data', {str(tmp_path / 'mine.csv')!r}, "
            f"'--test', {str(tmp_path / 'mine_test.csv')!r}, '--set', 'pretrain.unlabeled=missing.txt']); "
            "print(status, 'tensorflow' in sys.modules)")
    result = run("-c", code)
    assert result.stdout.split() == ["2", "False"]
    error = result.stderr.strip()
    assert error.startswith("error: 3 files this config names are missing: data.train: ") and "\n" not in error
    assert "mine.csv: file not found" in error and "data.test: " in error and "pretrain.unlabeled: missing.txt: file not found" in error


def test_a_wrong_text_or_label_column_fails_before_tensorflow_loads():
    for flag, message in (("--text-column", "no column 'nope' (the file has: id, document, label)"),
                          ("--label-column", "no label column 'nope' (the file has: id, document, label)")):
        code = ("import sys; from app.cli import train; "
                f"status = train.main(['--config', 'tests/tiny.yaml', {flag!r}, 'nope']); print(status, 'tensorflow' in sys.modules)")
        result = run("-c", code)
        assert result.stdout.split() == ["2", "False"]
        assert message in result.stderr and result.stderr.strip().endswith(f"({flag})")
