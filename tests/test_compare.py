"""Comparing cells: one command trains SimpleRNN, LSTM and GRU on the same tokens and
seeds, and writes a table (terminal, Markdown, CSV, JSON), figures and an offline
report.html that a real browser renders, Hangul included. Saved models are compared
again without retraining, each with its own tokenizer."""

import csv
import json
import os
import shutil
import subprocess
import sys
import warnings

import numpy as np
import pytest
import yaml
from conftest import PROJECT_ROOT, SAMPLE, SAMPLE_3CLASS, fonts_drawing, launch_chromium, needs_chromium

CELLS = ("simple_rnn", "lstm", "gru")


def run(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, *args], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          encoding="utf-8", env=env, timeout=600)


def write_config(directory, cell, **model):
    """tests/tiny.yaml with another cell (and model settings): a tiny model of the sample."""
    config = yaml.safe_load((PROJECT_ROOT / "tests" / "tiny.yaml").read_text(encoding="utf-8"))
    config["name"] = cell
    config["data"]["train"] = str(SAMPLE)
    config["model"].update({"cell": cell, "embedding_dim": 8, "units": 8, **model})
    config["train"]["epochs"] = 2
    path = directory / f"{cell}.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    """`train.py --compare` of the three cells with two seeds each, run once for this module."""
    root = tmp_path_factory.mktemp("compare")
    configs = [str(write_config(root, cell)) for cell in CELLS]
    result = run("train.py", "--compare", *configs, "--seeds", "2", "--models-dir", str(root / "models"), "--name", "cmp")
    assert result.returncode == 0, result.stderr[-3000:]
    directory = root / "models" / "cmp"
    return directory, json.loads((directory / "comparison.json").read_text(encoding="utf-8")), result.stdout


def test_every_config_is_trained_once_per_seed_into_the_comparison_directory(comparison):
    directory, summary, _ = comparison
    runs = sorted(run["run"] for run in summary["runs"])
    assert runs == sorted(f"{cell}-seed{seed}" for cell in CELLS for seed in (42, 43))
    for run_name in runs:
        assert (directory / run_name / "model.keras").is_file()
        seed = yaml.safe_load((directory / run_name / "config.yaml").read_text(encoding="utf-8"))["train"]["seed"]
        assert run_name.endswith(str(seed))
    assert not list(directory.parent.glob(".*partial"))  # nothing half-written left


def test_tokenization_happens_once_for_all_models(comparison):
    _, _, output = comparison
    assert output.count("tokenized") == 2  # the training part and the test part, once each


def test_table_has_every_column_in_terminal_markdown_csv_and_json(comparison):
    directory, summary, output = comparison
    for header in ("params", "recurrent params", "recurrent formula", "accuracy", "macro-F1", "ROC-AUC",
                   "best epoch", "s/epoch", "predict/s", "size MiB", "peak MiB"):
        assert header in output
        assert header in (directory / "comparison.md").read_text(encoding="utf-8")
    with open(directory / "comparison.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(row["model"] for row in rows) == sorted(CELLS)
    for row in summary["models"]:
        assert row["runs"] == 2
        assert 0 <= row["accuracy_mean"] <= 1 and row["accuracy_std"] is not None
        assert row["predict_per_second"] > 0 and row["size_mib"] > 0 and row["peak_memory_mib"] > 100
        assert row["best_epoch"] >= 1 and row["seconds_per_epoch"] > 0 and 0 <= row["roc_auc_mean"] <= 1
    accuracies = [row["accuracy_mean"] for row in summary["models"]]
    assert accuracies == sorted(accuracies, reverse=True)  # best first


def test_parameter_counts_follow_the_closed_form_formulas(comparison):
    """Same embedding and units: LSTM has 4 times SimpleRNN's recurrent parameters, and
    Keras's GRU (reset_after) 3(u(i+u)+2u)."""
    _, summary, _ = comparison
    recurrent = {row["cell"]: row["recurrent_params"] for row in summary["models"]}
    u = i = 8
    assert recurrent["simple_rnn"] == u * (i + u + 1) == 136
    assert recurrent["lstm"] == 4 * recurrent["simple_rnn"]
    assert recurrent["gru"] == 3 * (u * (i + u) + 2 * u)
    formulas = {row["cell"]: row["recurrent_formula"] for row in summary["models"]}
    assert formulas["lstm"] == "4u(i+u+1) = 4·8·(8+8+1)"


def test_significance_compares_the_best_model_with_each_other(comparison):
    _, summary, output = comparison
    best = summary["models"][0]["model"]
    assert [(t["best"], t["other"]) for t in summary["significance"]] == [(best, row["model"]) for row in summary["models"][1:]]
    for test in summary["significance"]:
        assert test["ci_low"] <= test["difference"] <= test["ci_high"]
        assert test["significant"] == (test["ci_low"] > 0 or test["ci_high"] < 0)
    assert "paired bootstrap" in output


def test_accuracy_is_reported_by_comment_length(comparison):
    _, summary, _ = comparison
    buckets = summary["accuracy_by_length"]
    assert [b["bucket"] for b in buckets] == ["1-10", "11-30", "31-60", "61+"]
    assert sum(b["comments"] for b in buckets) == summary["test_comments"]


def test_figures_are_drawn_and_embedded_in_a_self_contained_report(comparison):
    directory, _, _ = comparison
    figures = ["learning_curves.png", "accuracy_vs_params.png", "accuracy_by_length.png", "confusion_matrices.png",
               "roc_curves.png"]
    for name in figures:
        assert (directory / name).stat().st_size > 10_000
    page = (directory / "report.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == len(figures)
    assert "data:font/ttf;base64," in page
    assert "http://" not in page and "https://" not in page  # nothing to fetch: it works offline


@needs_chromium
def test_report_renders_in_headless_chromium_with_hangul(comparison, tmp_path):
    from playwright.sync_api import sync_playwright

    directory, _, _ = comparison
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 800, "height": 900})  # narrower than the page's max-width
        page.goto((directory / "report.html").as_uri())
        page.evaluate("document.fonts.ready.then(() => true)")
        images = page.evaluate("[...document.images].map(image => image.naturalWidth)")
        heading = page.text_content("h1")
        heading_left = page.evaluate("document.querySelector('h1').getBoundingClientRect().left")
        fonts = fonts_drawing(page, "h1")  # which font Chromium really drew the Hangul heading with
        page.screenshot(path=tmp_path / "report.png", full_page=True)
        browser.close()
    assert len(images) == 5 and all(width > 300 for width in images)
    assert "댓글 감성 분류" in heading
    assert heading_left >= 16  # a page margin, even in a window narrower than the text column
    hangul = [font for font in fonts if font["familyName"] == "NanumGothic"]
    assert hangul and hangul[0]["isCustomFont"] and hangul[0]["glyphCount"] > 0
    assert (tmp_path / "report.png").stat().st_size > 50_000


def test_plots_draw_hangul_with_the_bundled_korean_font(tmp_path):
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    import app.reporting.plots  # noqa: F401 - sets up the Korean font

    used = font_manager.findfont(font_manager.FontProperties(family=plt.rcParams["font.family"]))
    assert "NanumGothic" in used
    figure, axis = plt.subplots()
    axis.set_title("댓글 길이 (토큰 수)")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph ... missing from font"
        figure.savefig(tmp_path / "hangul.png")
    plt.close(figure)


def test_a_one_epoch_run_plots_its_point_above_the_tick_1(monkeypatch, tmp_path):
    import app.reporting.plots as plots

    drawn = []
    monkeypatch.setattr(plots, "save_figure", lambda figure, path: drawn.append(figure))
    plots.plot_history({"loss": [0.6], "val_loss": [0.5], "accuracy": [0.7], "val_accuracy": [0.75]}, tmp_path / "h.png")
    for axis in drawn[0].axes:
        low, high = axis.get_xlim()
        assert (low, high) == (0.5, 1.5)
        assert [tick for tick in axis.get_xticks() if low <= tick <= high] == [1]


def test_saved_models_are_compared_without_retraining_seeds_grouped(comparison, tmp_path):
    directory, _, _ = comparison
    models = sorted(str(path) for path in directory.glob("*-seed*"))
    result = run("predict.py", "--compare", *models, "--evaluate", str(SAMPLE), "--report-dir", str(tmp_path / "again"))
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "again" / "comparison.json").read_text(encoding="utf-8"))
    assert summary["test_comments"] == 320
    assert sorted(row["model"] for row in summary["models"]) == sorted(CELLS)  # <model>-seed<N>: seeds of one row
    assert all(row["runs"] == 2 for row in summary["models"])
    assert (tmp_path / "again" / "report.html").is_file()


def test_each_saved_model_given_is_its_own_row_unless_named_as_a_seed():
    from app.comparison.compare import model_groups

    assert model_groups(["a/lstm-seed42", "a/lstm-seed43", "b/gru", "c/gru"]) == ["lstm", "lstm", "gru", "gru-2"]


def test_models_with_different_label_sets_are_refused(comparison, tmp_path):
    directory, _, _ = comparison
    three_class = tmp_path / "three-class"
    shutil.copytree(directory / "lstm-seed42", three_class)
    (three_class / "labels.json").write_text(json.dumps(
        {"values": ["0", "1", "2"], "names": ["negative", "neutral", "positive"]}), encoding="utf-8")
    result = run("predict.py", "--compare", str(directory / "gru-seed42"), str(three_class),
                 "--evaluate", str(SAMPLE_3CLASS), "--report-dir", str(tmp_path / "refused"))
    assert result.returncode == 2
    assert "different label sets" in result.stderr and "three-class" in result.stderr
    assert not (tmp_path / "refused").exists()


def test_configs_that_tokenize_differently_are_refused_before_training(tmp_path):
    lstm = write_config(tmp_path, "lstm")
    char = write_config(tmp_path, "gru")
    config = yaml.safe_load(char.read_text(encoding="utf-8"))
    config["tokenizer"] = {"backend": "char"}
    char.write_text(yaml.safe_dump(config), encoding="utf-8")
    result = run("train.py", "--compare", str(lstm), str(char), "--models-dir", str(tmp_path / "models"))
    assert result.returncode == 2
    assert "tokenizer.backend is 'char' but 'mecab'" in result.stderr
    assert not (tmp_path / "models").exists()


def test_bootstrap_finds_a_clear_lead_significant_and_a_tie_not():
    from app.comparison.compare import bootstrap_difference

    rng = np.random.default_rng(0)
    weaker = (rng.random(2000) < 0.70).astype(float)
    stronger = np.where(rng.random(2000) < 0.5, 1.0, weaker)  # right on every comment the weaker gets, and more
    assert bootstrap_difference(stronger, weaker)["significant"]
    tie = bootstrap_difference(weaker, weaker)
    assert tie["difference"] == 0 and not tie["significant"]


def test_runs_with_the_same_directory_name_are_scored_apart(comparison, tmp_path):
    directory, _, _ = comparison
    shutil.copytree(directory / "gru-seed42", tmp_path / "a" / "model")
    shutil.copytree(directory / "simple_rnn-seed42", tmp_path / "b" / "model")
    result = run("predict.py", "--compare", str(tmp_path / "a" / "model"), str(tmp_path / "b" / "model"),
                 str(directory / "gru-seed42"), "--evaluate", str(SAMPLE), "--report-dir", str(tmp_path / "same-names"))
    assert result.returncode == 0, result.stderr[-3000:]
    runs = json.loads((tmp_path / "same-names" / "comparison.json").read_text(encoding="utf-8"))["runs"]
    assert [run["model"] for run in runs] == ["model", "model-2", "gru"]
    assert runs[0]["confusion_matrix"] == runs[2]["confusion_matrix"]  # a/model is gru-seed42, scored as itself
    assert runs[0]["confusion_matrix"] != runs[1]["confusion_matrix"]
