"""A study's report.html: the trials table, the optimisation history, every trial's
epochs (pruned ones stop early), the parameter importances and the best config, in
one self-contained page (figures and the Hangul font embedded, as the comparison
report does: app.reporting.html)."""

import html
import logging
import os
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import optuna
from matplotlib.ticker import MaxNLocator

from app.reporting.html import figure_html, html_table, page
from app.reporting.plots import epoch_axis, save_figure

log = logging.getLogger(__name__)

STATE_ORDER = {"complete": 0, "pruned": 1, "failed": 2, "interrupted": 3, "running": 4}


def importances(study: optuna.Study) -> dict[str, float] | None:
    """Each searched key's share of what made the good trials good (Optuna's default
    evaluator, PED-ANOVA, over the complete trials), largest first; None with fewer
    than two complete trials, too few to say."""
    if len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))) < 2:
        return None
    return {key: float(value) for key, value in optuna.importance.get_param_importances(study).items()}


def write_report(study: optuna.Study, summary: dict, best_yaml: str, directory: str | os.PathLike, command: str) -> Path:
    """Draw the figures into ``directory`` and write ``directory``/report.html; returns its path."""
    directory = Path(directory)
    rows, metric, counts, best = summary["trials"], summary["metric"], summary["counts"], summary["best"]
    figures = [("Optimisation history", "history.png", lambda p: plot_history(rows, metric, summary["direction"], p)),
               (f"Every trial's {metric} by epoch", "epochs.png", lambda p: plot_epochs(rows, metric, best["trial"], p))]
    if summary["importances"]:
        figures.append(("Parameter importances", "importances.png", lambda p: plot_importances(summary["importances"], p)))
    for _, name, draw in figures:
        draw(directory / name)
    test = best["test"]
    interrupted = f", {counts['interrupted']} interrupted (not counted: --resume runs others)" if counts["interrupted"] else ""
    body = "\n".join([
        f"<h1>하이퍼파라미터 탐색 (hyperparameter search): {html.escape(summary['study'])}</h1>",
        f"<p class='note'>Made {time.strftime('%Y-%m-%d %H:%M')} by <code>{html.escape(command)}</code></p>",
        f"<p>{sum(counts.values())} trials: {counts['complete']} complete, {counts['pruned']} pruned, "
        f"{counts['failed']} failed{interrupted}. Each is judged on {html.escape(metric)} of the validation comments at "
        "the epoch whose weights it keeps; the test set was scored once, for the best config, after the search.</p>",
        "<h2>Best trial</h2>",
        f"<p>Trial {best['trial']}: {html.escape(metric)} {best['value']:.4f}. Its config trained again and saved as "
        f"<code>{html.escape(best['run'])}</code>: test accuracy {test['accuracy']:.4f}, macro-F1 {test['macro_f1']:.4f}"
        + (f", ROC-AUC {test['roc_auc']:.4f}" if test["roc_auc"] is not None else "") + f" ({test['n']:,} comments).</p>",
        "<h2>Search space</h2>",
        "<ul>" + "".join(f"<li><code>{html.escape(key)}</code>: {html.escape(values)}</li>"
                         for key, values in summary["search"].items()) + "</ul>",
        "<h2>Trials (best first)</h2>",
        html_table(*trial_cells(rows, metric, summary["direction"])),
        *(figure_html(title, directory / name) for title, name, _ in figures),
        importance_note(summary["importances"]),
        "<h2>Best config</h2>",
        f"<p class='note'>python train.py --config {html.escape(best['config'])}</p>",
        f"<pre>{html.escape(best_yaml)}</pre>",
    ])
    path = directory / "report.html"
    path.write_text(page(f"탐색 {summary['study']}", body), encoding="utf-8")
    return path


def importance_note(ranking: dict | None) -> str:
    """How to read the importances, or why there are none."""
    if not ranking:
        return "<p class='note'>Parameter importances need at least two complete trials.</p>"
    return ("<p class='note'>Importance: how much each key's values separate the best trials from the rest "
            "(PED-ANOVA over the complete trials, summing to 1); with few trials, a rough guide.</p>")


def trial_cells(rows: list[dict], metric: str, direction: str) -> tuple[list[str], list[list[str]]]:
    """The trials table as text cells: complete trials best first (by ``metric``), then pruned, failed, interrupted."""
    keys = list(dict.fromkeys(key for row in rows for key in row["params"]))
    sign = 1 if direction == "minimize" else -1

    def order(row):
        value = row["value"] if row["state"] == "complete" else row["last_reported"]
        return STATE_ORDER[row["state"]], sign * value if value is not None else 0, row["trial"]

    header = ["trial", "state", "val_loss", "val_accuracy", "epoch kept / run", "seconds", *keys, "note"]
    number = lambda value, fmt="{:.4f}": "-" if value is None else fmt.format(value)
    body = []
    for row in sorted(rows, key=order):
        note = row["failure"] or ("the config as written" if row["baseline"] else "")
        if row["state"] == "pruned" and row["last_epoch"]:
            note = f"pruned after epoch {row['last_epoch']} ({metric} {row['last_reported']:.4f})"
        epochs = f"{row['kept_epoch']} / {row['epochs']}" if row["epochs"] else "-"
        body.append([str(row["trial"]), row["state"], number(row["val_loss"]),
                     number(row["val_accuracy"]), epochs, number(row["seconds"], "{:.1f}"),
                     *(_cell(row["params"].get(key)) for key in keys), note])
    return header, body


def _cell(value):
    if value is None:
        return "-"
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def plot_history(rows: list[dict], metric: str, direction: str, path: str | os.PathLike) -> None:
    """Each trial's value by trial number (pruned: its last reported value), and the best so far."""
    figure, axis = plt.subplots(figsize=(8, 4.5))
    complete = [row for row in rows if row["state"] == "complete"]
    pruned = [row for row in rows if row["state"] == "pruned" and row["last_reported"] is not None]
    axis.plot([r["trial"] for r in complete], [r["value"] for r in complete], "o", label="complete")
    if pruned:
        axis.plot([r["trial"] for r in pruned], [r["last_reported"] for r in pruned], "x", color="grey",
                  label="pruned (last epoch reported)")
    values = [r["value"] for r in complete]
    best = np.minimum.accumulate(values) if direction == "minimize" else np.maximum.accumulate(values)
    axis.step([r["trial"] for r in complete], best, where="post", color="tab:red", label="best so far")
    axis.set_xlabel("trial")
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_ylabel(f"{metric} (validation)")
    axis.set_title("최적화 기록 (optimisation history)")
    axis.grid(alpha=0.3)
    axis.legend()
    save_figure(figure, path)


def plot_epochs(rows: list[dict], metric: str, best_trial: int, path: str | os.PathLike) -> None:
    """The metric after every epoch of every trial: pruned trials stop early, the best is drawn bold."""
    figure, axis = plt.subplots(figsize=(8, 4.5))
    longest = 1
    for row in rows:
        steps = sorted(int(step) for step in row["intermediate"])
        if not steps:
            continue
        longest = max(longest, steps[-1])
        values = [row["intermediate"][str(step)] for step in steps]
        if row["trial"] == best_trial:
            axis.plot(steps, values, marker="o", color="tab:red", linewidth=2.5, label=f"trial {best_trial} (best)", zorder=3)
        elif row["state"] == "pruned":
            axis.plot(steps, values, marker="x", color="grey", linestyle="--", alpha=0.7)
        else:
            axis.plot(steps, values, marker=".", alpha=0.6)
    axis.plot([], [], marker="x", color="grey", linestyle="--", label="pruned")
    epoch_axis(axis, longest)
    axis.set_ylabel(f"{metric} (validation)")
    axis.set_title("에폭별 검증 지표 (every trial, by epoch)")
    axis.grid(alpha=0.3)
    axis.legend()
    save_figure(figure, path)


def plot_importances(ranking: dict[str, float], path: str | os.PathLike) -> None:
    """The importances as horizontal bars, the most important on top."""
    keys = list(ranking)[::-1]
    figure, axis = plt.subplots(figsize=(7, 0.5 * len(keys) + 1.5))
    axis.barh(keys, [ranking[key] for key in keys], color="tab:blue")
    for y, key in enumerate(keys):
        axis.text(ranking[key], y, f" {ranking[key]:.2f}", va="center")
    axis.set_xlim(0, max(ranking.values()) * 1.15 or 1)
    axis.set_xlabel("importance (PED-ANOVA, sums to 1)")
    axis.set_title("파라미터 중요도 (parameter importances)")
    axis.grid(alpha=0.3, axis="x")
    save_figure(figure, path)
