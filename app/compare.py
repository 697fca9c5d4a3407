"""Compare saved models on one test set: which one is best, and is its lead real?

Every model is scored end to end from text with its own tokenizer and vocabulary,
so `train.py --compare` (fresh models) and `predict.py --compare` (saved ones)
measure the same things:

    total and recurrent parameters (with the closed-form formula), accuracy,
    macro-F1, ROC-AUC, best epoch, seconds per epoch, comments per second,
    size on disk, peak training memory, and accuracy by comment length.

Models trained from one config with several seeds form a group: the table gives
each group's mean and standard deviation, and a paired bootstrap on the test
comments says whether the best group's lead over each other group is significant.
"""

import csv
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.errors import DataError

# Comment length in tokens: where a SimpleRNN loses long-range information
LENGTH_BUCKETS = ((1, 10), (11, 30), (31, 60), (61, None))
BOOTSTRAP_RESAMPLES = 2000
SEED_SUFFIX = re.compile(r"-seed\d+$")  # run names of train.py --compare: <model>-seed<N>


@dataclass
class ModelResult:
    """One saved model scored on the test set."""

    name: str  # the run directory's name
    group: str  # the config it was trained from; seeds of one config share it
    cell: str
    probabilities: np.ndarray  # (n, classes); NaN rows: no prediction (empty, no known token)
    metrics: dict
    params: list  # the per-layer table from params.json
    history: dict  # metric -> values per epoch, from history.csv
    predict_per_second: float
    size_mib: float
    trained: dict = field(default_factory=dict)  # metrics.json written at training time


def check_same_labels(paths):
    """Models can only be compared on classes they all know, in the same order."""
    from app.bundle import read_labels

    first, first_labels = paths[0], read_labels(paths[0])
    for path in paths[1:]:
        labels = read_labels(path)
        if (labels.values, labels.names) != (first_labels.values, first_labels.names):
            raise DataError(
                f"{path}: trained on labels {', '.join(labels.names)} ({', '.join(labels.values)}), but {first} on "
                f"{', '.join(first_labels.names)} ({', '.join(first_labels.values)}); models trained on different "
                "label sets cannot be compared")
    return first_labels


def score_model(bundle, texts, y_true, group=None):
    """Predict ``texts`` end to end (tokenizing included, no cache) and time it."""
    from app.evaluate import classification_metrics
    from app.inference import OK, predict_texts

    started = time.perf_counter()
    probabilities, status = predict_texts(bundle, texts)
    seconds = time.perf_counter() - started
    scored = status == OK
    metrics = classification_metrics(y_true[scored], probabilities[scored], bundle.labels.names)
    model_file = bundle.path / "model.keras"
    return ModelResult(
        name=bundle.path.name,
        group=group or bundle.config.name or bundle.config.model.cell,
        cell=bundle.config.model.cell,
        probabilities=probabilities,
        metrics=metrics,
        params=json.loads((bundle.path / "params.json").read_text(encoding="utf-8")),
        history=read_history(bundle.path / "history.csv"),
        predict_per_second=len(texts) / seconds,
        size_mib=model_file.stat().st_size / 2**20,
        trained=bundle.metrics,
    )


def read_history(path):
    """history.csv as {metric: [value per epoch]}; empty when the run has none."""
    if not Path(path).is_file():
        return {}
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return {key: [float(row[key]) for row in rows] for key in (rows[0] if rows else {}) if key != "epoch"}


def recurrent_rows(params):
    """The rows of the parameter table that belong to recurrent layers."""
    return [row for row in params if row["type"] in {"SimpleRNN", "LSTM", "GRU", "Bidirectional"}]


# ----------------------------------------------------------------------------- summary

def summarize(results, y_true, lengths, names):
    """The comparison as plain data (what the JSON holds and every view renders).

    Only comments that every model could predict are scored, so all models are
    judged on exactly the same test comments.
    """
    from app.evaluate import classification_metrics

    common = predicted_by_all(results)
    y, lengths = y_true[common], np.asarray(lengths)[common]
    scores = [classification_metrics(y, r.probabilities[common], names) for r in results]
    correct = [r.probabilities[common].argmax(axis=1) == y for r in results]
    groups = {}  # model -> indices of its runs (run names need not be unique)
    for index, result in enumerate(results):
        groups.setdefault(result.group, []).append(index)
    group_correct = {group: np.mean([correct[i] for i in members], axis=0) for group, members in groups.items()}

    rows = sorted((_group_row(group, [results[i] for i in members], [scores[i] for i in members])
                   for group, members in groups.items()), key=lambda row: -row["accuracy_mean"])
    best = rows[0]["model"]
    significance = [
        {"best": best, "other": row["model"], **bootstrap_difference(group_correct[best], group_correct[row["model"]])}
        for row in rows[1:]
    ]
    by_length = [
        {"bucket": label, "comments": int(in_bucket.sum()),
         **{group: (float(group_correct[group][in_bucket].mean()) if in_bucket.any() else None) for group in groups}}
        for label, in_bucket in length_masks(lengths)
    ]
    runs = [{"run": r.name, "model": r.group, **{k: score[k] for k in ("accuracy", "macro_f1", "roc_auc", "confusion_matrix")}}
            for r, score in zip(results, scores)]
    return {
        "test_comments": int(common.sum()),
        "left_out": int((~common).sum()),  # some model had no prediction (empty, or no known token)
        "classes": list(names),
        "models": rows,
        "significance": significance,
        "accuracy_by_length": by_length,
        "runs": runs,
    }


def predicted_by_all(results):
    """A mask of the test comments every model gave a prediction (the ones scored)."""
    return np.all([~np.isnan(r.probabilities).any(axis=1) for r in results], axis=0)


def _group_row(group, members, scores):
    """A config's line of the table: means (and standard deviations) over its seeds.
    ``scores`` are the members' test metrics, in the same order."""
    first = members[0]
    recurrent = recurrent_rows(first.params)
    values = lambda key: [score[key] for score in scores]
    trained = lambda key: [m.trained.get(key) for m in members]
    return {
        "model": group,
        "cell": first.cell,
        "runs": len(members),
        "params": sum(row["params"] for row in first.params),
        "recurrent_params": sum(row["params"] for row in recurrent),
        "recurrent_formula": "; ".join(f"{row['formula']} = {row['worked']}" for row in recurrent),
        "accuracy_mean": _mean(values("accuracy")),
        "accuracy_std": _std(values("accuracy")),
        "macro_f1_mean": _mean(values("macro_f1")),
        "macro_f1_std": _std(values("macro_f1")),
        "roc_auc_mean": _mean(values("roc_auc")),
        "best_epoch": _mean(trained("best_epoch")),
        "seconds_per_epoch": _mean(trained("seconds_per_epoch")),
        "predict_per_second": _mean([m.predict_per_second for m in members]),
        "size_mib": _mean([m.size_mib for m in members]),
        "peak_memory_mib": _mean(trained("peak_memory_mib")),
    }


def _mean(values):
    """Mean of the known values; None when none is known (e.g. ROC-AUC for 3 classes)."""
    known = [v for v in values if v is not None]
    return float(np.mean(known)) if known else None


def _std(values):
    """Sample standard deviation over seeds; None for a single run."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else None


def length_masks(lengths):
    """(label, boolean mask) for each LENGTH_BUCKETS bucket of comment lengths in tokens."""
    for low, high in LENGTH_BUCKETS:
        label = f"{low}-{high}" if high else f"{low}+"
        yield label, (lengths >= low) & (lengths <= (high or np.inf))


def bootstrap_difference(correct_best, correct_other, resamples=BOOTSTRAP_RESAMPLES, seed=0):
    """Paired bootstrap over test comments of the accuracy difference best - other.

    ``correct_*`` give, per comment, the share of a group's runs that got it right
    (0/1 for a single run). Resampling the same comments for both models keeps the
    pairing: the 95% interval says how much the lead could change with another
    sample of comments. The lead is significant when the interval excludes 0.
    """
    rng = np.random.default_rng(seed)
    difference = correct_best - correct_other
    n = len(difference)
    resampled = np.array([difference[rng.integers(0, n, n)].mean() for _ in range(resamples)])
    low, high = np.percentile(resampled, [2.5, 97.5])
    # two-sided: how often a resample puts the lead on the other side of zero
    p_value = min(1.0, 2 * min((resampled <= 0).mean(), (resampled >= 0).mean()))
    return {"difference": float(difference.mean()), "ci_low": float(low), "ci_high": float(high),
            "p_value": float(p_value), "significant": bool(low > 0 or high < 0)}


# ----------------------------------------------------------------------------- views

COLUMNS = (  # (header, key, format); a ± column shows the standard deviation over seeds
    ("model", "model", "{}"),
    ("cell", "cell", "{}"),
    ("runs", "runs", "{}"),
    ("params", "params", "{:,}"),
    ("recurrent params", "recurrent_params", "{:,}"),
    ("recurrent formula", "recurrent_formula", "{}"),
    ("accuracy", "accuracy_mean", "{:.4f}"),
    ("±", "accuracy_std", "{:.4f}"),
    ("macro-F1", "macro_f1_mean", "{:.4f}"),
    ("ROC-AUC", "roc_auc_mean", "{:.4f}"),
    ("best epoch", "best_epoch", "{:.1f}"),
    ("s/epoch", "seconds_per_epoch", "{:.1f}"),
    ("predict/s", "predict_per_second", "{:,.0f}"),
    ("size MiB", "size_mib", "{:.1f}"),
    ("peak MiB", "peak_memory_mib", "{:,.0f}"),
)


def table_cells(summary):
    """The table as text cells: a header row, then one row per model, best first."""
    header = [title for title, _, _ in COLUMNS]
    body = [["-" if row[key] is None else fmt.format(row[key]) for _, key, fmt in COLUMNS] for row in summary["models"]]
    return header, body


def significance_lines(summary):
    """One sentence per comparison of the best model with another."""
    runs = summary["models"][0]["runs"]
    lines = []
    for test in summary["significance"]:
        verdict = "significant" if test["significant"] else "not significant"
        lines.append(
            f"{test['best']} vs {test['other']}: accuracy +{test['difference']:.4f} "
            f"(95% CI {test['ci_low']:+.4f} to {test['ci_high']:+.4f}, {_p_text(test['p_value'])}): {verdict}")
    how = (f"paired bootstrap over the {summary['test_comments']:,} test comments, {BOOTSTRAP_RESAMPLES:,} resamples"
           + (f", each model's correctness averaged over its {runs} seeds" if runs > 1 else ""))
    return lines, how


def length_cells(summary):
    """Accuracy by comment length: a header, then one row per model."""
    buckets = summary["accuracy_by_length"]
    header = ["model"] + [f"{b['bucket']} tokens ({b['comments']:,})" for b in buckets]
    body = [[row["model"]] + ["-" if b[row["model"]] is None else f"{b[row['model']]:.4f}" for b in buckets]
            for row in summary["models"]]
    return header, body


def _p_text(p_value):
    """A bootstrap p-value, without claiming more resolution than the resamples give."""
    smallest = 1 / BOOTSTRAP_RESAMPLES
    return f"p < {smallest:.4f}" if p_value < smallest else f"p = {p_value:.3f}"


def format_text(summary):
    """What the terminal shows."""
    lines, how = significance_lines(summary)
    parts = [_aligned(*table_cells(summary)), "", f"significance ({how}):", *(f"  {line}" for line in lines),
             "", "accuracy by comment length:", _aligned(*length_cells(summary))]
    if summary["left_out"]:
        parts.append(f"\n{summary['left_out']:,} test comments were left out: some model had no prediction for them")
    return "\n".join(parts)


def format_markdown(summary):
    lines, how = significance_lines(summary)
    return "\n".join([
        f"## Comparison on {summary['test_comments']:,} test comments", "",
        _markdown_table(*table_cells(summary)), "",
        f"Significance ({how}):", "", *(f"- {line}" for line in lines), "",
        "Accuracy by comment length in tokens:", "",
        _markdown_table(*length_cells(summary)), "",
    ])


def write_comparison(summary, directory):
    """comparison.json (everything), comparison.csv (the table, raw numbers), comparison.md."""
    directory = Path(directory)
    (directory / "comparison.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    with open(directory / "comparison.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([key for _, key, _ in COLUMNS])
        for row in summary["models"]:
            writer.writerow(["" if row[key] is None else row[key] for _, key, _ in COLUMNS])
    (directory / "comparison.md").write_text(format_markdown(summary), encoding="utf-8")


def _aligned(header, body):
    widths = [max(len(cell) for cell in column) for column in zip(header, *body)]
    line = lambda cells: "  ".join(cell.ljust(width) for cell, width in zip(cells, widths)).rstrip()
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, body)])


def _markdown_table(header, body):
    escape = lambda cell: cell.replace("|", "\\|")
    rows = [header, ["---"] * len(header), *body]
    return "\n".join("| " + " | ".join(map(escape, row)) + " |" for row in rows)


# ----------------------------------------------------------------------------- the whole comparison

def check_comparable(configs, paths):
    """Configs compared in one training must read and tokenize the data identically, and
    start from the same pretrained vectors (so, when they pretrain, of one size)."""
    from app.errors import ConfigError

    first, first_path = configs[0].to_dict(), paths[0]
    shared = [(section, key) for section in ("data", "tokenizer", "pretrain") for key in first[section]]
    if first["pretrain"]["unlabeled"]:
        shared.append(("model", "embedding_dim"))
    for config, path in zip(configs[1:], paths[1:]):
        other = config.to_dict()
        for section, key in shared:
            value = first[section][key]
            if other[section][key] != value:
                raise ConfigError(
                    f"{path}: {section}.{key} is {other[section][key]!r} but {value!r} in {first_path}; models "
                    f"compared must share data, tokenizer and pretrain settings (align them with --set {section}.{key}=...)")


def unique_names(names):
    """``names`` with repeats made distinct: lstm, lstm -> lstm, lstm-2."""
    unique = []
    for base in names:
        name, k = base, 1
        while name in unique:
            k += 1
            name = f"{base}-{k}"
        unique.append(name)
    return unique


def model_groups(paths):
    """A table row per run directory given, except that runs named <model>-seed<N>, as
    train.py --compare saves them, are seeds of one row <model>."""
    names = [Path(path).resolve().name for path in paths]
    seeded = [SEED_SUFFIX.sub("", name) for name in names]
    return [group if group != name else unique for group, name, unique in zip(seeded, names, unique_names(names))]


def compare_runs(runs, texts, y_true, directory, command, lengths=None):
    """Score saved runs on one test set and write the comparison into ``directory``.

    ``runs`` are (model name, run directory) pairs; runs sharing a name are seeds of
    one model. ``lengths`` are the test comments' lengths in tokens (default: by the
    first run's tokenizer). Writes comparison.{json,csv,md}, the figures and
    report.html; returns the summary.
    """
    from app import report
    from app.bundle import load_bundle
    from app.html_report import write_report

    check_same_labels([path for _, path in runs])
    bundles = [load_bundle(path) for _, path in runs]
    if lengths is None:
        lengths = [len(tokens) for tokens in bundles[0].tokenizer.tokenize(texts)]
    results = []
    for (group, _), bundle in zip(runs, bundles):
        print(f"scoring {bundle.path.name} on {len(texts):,} test comments", flush=True)
        results.append(score_model(bundle, texts, y_true, group))
        bundle.tokenizer.close()
    names = bundles[0].labels.names
    summary = summarize(results, y_true, lengths, names)
    write_comparison(summary, directory)
    figures = report.plot_comparison(results, summary, y_true, directory)
    write_report(summary, figures, directory, command)
    return summary
