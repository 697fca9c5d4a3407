"""Plots of a run (learning curves, confusion matrix) and of a comparison."""

import os
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib
import numpy as np

matplotlib.use("Agg")  # files only, no screen needed

import koreanize_matplotlib  # noqa: F401 - registers NanumGothic so Hangul labels render
import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator

from app.evaluation.metrics import predicted_by_all
from app.files import atomic_file

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def save_figure(figure: "Figure", path: str | os.PathLike) -> None:
    """Write a figure in the format its suffix names (PNG, SVG, PDF), atomically, and free
    it (pyplot keeps every open figure otherwise)."""
    figure.tight_layout()
    with atomic_file(path, binary=True) as handle:
        figure.savefig(handle, format=Path(path).suffix.lstrip(".").lower() or "png", dpi=110)
    plt.close(figure)


def epoch_axis(axis: "plt.Axes", epochs: int) -> None:
    """Whole epochs from 1 to ``epochs`` on the x axis: a one-epoch run shows one point
    above the tick 1, not matplotlib's default span of 0.96 to 1.04."""
    axis.set_xlabel("epoch")
    axis.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))  # else one epoch gets 0.5, 0.6...
    axis.set_xlim(0.5, max(epochs, 1) + 0.5)


def plot_history(history: dict, path: str | os.PathLike) -> None:
    """Loss and accuracy per epoch, training against validation."""
    epochs = range(1, len(history["loss"]) + 1)
    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for axis, metric in zip(axes, ("loss", "accuracy")):
        axis.plot(epochs, history[metric], marker="o", label="train")
        if f"val_{metric}" in history:
            axis.plot(epochs, history[f"val_{metric}"], marker="o", label="validation")
        epoch_axis(axis, len(history["loss"]))
        axis.set_title(metric)
        axis.legend()
        axis.grid(alpha=0.3)
    save_figure(figure, path)


def plot_confusion_matrix(matrix: list[list[int]], names: list[str], path: str | os.PathLike, title: str = "test set") -> None:
    """Counts per (true, predicted) class, with the counts written in the cells."""
    figure, axis = plt.subplots(figsize=(1.6 * len(names) + 2.5, 1.4 * len(names) + 2))
    image = axis.imshow(matrix, cmap="Blues")
    axis.set_xticks(range(len(names)), names)
    axis.set_yticks(range(len(names)), names)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.set_title(f"confusion matrix ({title})")
    peak = max(max(row) for row in matrix) or 1
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            axis.text(j, i, f"{count:,}", ha="center", va="center", color="white" if count > peak / 2 else "black")
    figure.colorbar(image, ax=axis)
    save_figure(figure, path)


# ----------------------------------------------------------------------------- comparisons

def plot_comparison(results: list, summary: dict, y_true: np.ndarray, directory: str | os.PathLike) -> list[tuple[str, str]]:
    """Every comparison figure, as (title, file name) pairs in the order a report shows them.

    ``results`` are the comparison's ModelResults (app.comparison.compare), one per run;
    ``y_true`` are the test comments' class indices; like the summary, the figures
    score only the comments every model predicted.
    """
    directory = Path(directory)

    common = predicted_by_all(results)
    figures = [
        ("Learning curves", "learning_curves.png", lambda p: plot_learning_curves(results, p)),
        ("Accuracy against recurrent parameters", "accuracy_vs_params.png", lambda p: plot_accuracy_vs_params(summary, p)),
        ("Accuracy by comment length", "accuracy_by_length.png", lambda p: plot_accuracy_by_length(summary, p)),
        ("Confusion matrices", "confusion_matrices.png", lambda p: plot_confusion_matrices(summary, p)),
    ]
    if len(summary["classes"]) == 2:
        curves = {}  # each model's first run, in the order given: the colours of the other figures
        for result in results:
            curves.setdefault(result.group, result.probabilities[common][:, 1])
        figures.append(("ROC curves", "roc_curves.png", lambda p: plot_roc_curves(y_true[common], curves, p)))
    for _, name, draw in figures:
        draw(directory / name)
    return [(title, name) for title, name, _ in figures]


def _colors(groups):
    """A colour per model, in the order the models were given, the same in every figure."""
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    return {group: cycle[i % len(cycle)] for i, group in enumerate(dict.fromkeys(groups))}


def plot_learning_curves(results: list, path: str | os.PathLike) -> None:
    """Validation loss and accuracy per epoch of every run; seeds of one model share a colour."""
    colors = _colors(r.group for r in results)
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    labelled = set()
    for result in results:
        for axis, metric in zip(axes, ("val_loss", "val_accuracy")):
            values = result.history.get(metric)
            if not values:
                continue
            label = result.group if (result.group, metric) not in labelled else None
            labelled.add((result.group, metric))
            axis.plot(range(1, len(values) + 1), values, marker="o", color=colors[result.group], alpha=0.8, label=label)
    for axis, title in zip(axes, ("검증 손실 (validation loss)", "검증 정확도 (validation accuracy)")):
        axis.set_title(title)
        epoch_axis(axis, max((len(r.history.get("val_loss") or []) for r in results), default=1))
        axis.grid(alpha=0.3)
        axis.legend()
    save_figure(figure, path)


def plot_accuracy_vs_params(summary: dict, path: str | os.PathLike) -> None:
    """Mean test accuracy (± standard deviation over seeds) against recurrent-layer parameters."""
    rows = summary["models"]
    colors = _colors(run["model"] for run in summary["runs"])
    figure, axis = plt.subplots(figsize=(6.5, 4.5))
    for row in rows:
        axis.errorbar(row["recurrent_params"], row["accuracy_mean"], yerr=row["accuracy_std"], fmt="o", capsize=4,
                      markersize=8, color=colors[row["model"]], label=f"{row['model']} ({row['params']:,} in all)")
    axis.set_xscale("log")
    axis.set_xlabel("순환층 파라미터 수 (recurrent-layer parameters, log scale)")
    axis.set_ylabel("test accuracy")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    save_figure(figure, path)


def plot_accuracy_by_length(summary: dict, path: str | os.PathLike) -> None:
    """Test accuracy per bucket of comment length: where long-range memory matters."""
    buckets = summary["accuracy_by_length"]
    labels = [f"{b['bucket']}\n({b['comments']:,})" for b in buckets]
    colors = _colors(run["model"] for run in summary["runs"])
    figure, axis = plt.subplots(figsize=(7, 4.5))
    for row in summary["models"]:
        values = [np.nan if b[row["model"]] is None else b[row["model"]] for b in buckets]
        axis.plot(labels, values, marker="o", color=colors[row["model"]], label=row["model"])
    axis.set_xlabel("댓글 길이 (토큰 수, 댓글 수) - comment length in tokens (comments)")
    axis.set_ylabel("test accuracy")
    axis.grid(alpha=0.3)
    axis.legend()
    save_figure(figure, path)


def plot_confusion_matrices(summary: dict, path: str | os.PathLike) -> None:
    """One confusion matrix per model (its first run), side by side."""
    first_runs = {}
    for run in summary["runs"]:
        first_runs.setdefault(run["model"], run)
    names = summary["classes"]
    figure, axes = plt.subplots(1, len(first_runs), figsize=(3.6 * len(first_runs) + 0.5, 3.6), squeeze=False)
    for axis, (model, run) in zip(axes[0], first_runs.items()):
        matrix = np.array(run["confusion_matrix"])
        axis.imshow(matrix, cmap="Blues")
        axis.set_xticks(range(len(names)), names, fontsize=8)
        axis.set_yticks(range(len(names)), names, fontsize=8)
        axis.set_xlabel("predicted")
        axis.set_ylabel("true")
        axis.set_title(model)
        for (i, j), count in np.ndenumerate(matrix):
            axis.text(j, i, f"{count:,}", ha="center", va="center", color="white" if count > matrix.max() / 2 else "black")
    save_figure(figure, path)


def plot_roc_curves(y_true: np.ndarray, scores: dict[str, np.ndarray], path: str | os.PathLike) -> None:
    """ROC curve of each model (its first run) for the positive class, with its AUC."""
    from sklearn.metrics import roc_auc_score, roc_curve

    figure, axis = plt.subplots(figsize=(5.5, 5))
    for model, score in scores.items():
        fpr, tpr, _ = roc_curve(y_true, score)
        axis.plot(fpr, tpr, label=f"{model} (AUC {roc_auc_score(y_true, score):.4f})")
    axis.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
    axis.set_xlabel("false positive rate")
    axis.set_ylabel("true positive rate")
    axis.grid(alpha=0.3)
    axis.legend(loc="lower right")
    save_figure(figure, path)
