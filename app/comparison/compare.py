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

import dataclasses
import logging
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from app.errors import ConfigError, DataError
from app.evaluation.metrics import bootstrap_difference, predicted_by_all
from app.files import AtomicDirectory
from app.logs import PROGRESS
from app.reporting.tables import write_comparison

if TYPE_CHECKING:
    from app.config.schema import Config
    from app.data.readers import LabelSet
    from app.inference.classifier import Classifier

log = logging.getLogger(__name__)

# Comment length in tokens: where a SimpleRNN loses long-range information
LENGTH_BUCKETS = ((1, 10), (11, 30), (31, 60), (61, None))
OLDER_RECURRENT_TYPES = {"SimpleRNN", "LSTM", "GRU", "Bidirectional"}  # params.json saved before rows said "recurrent"
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


def check_same_labels(paths: Sequence[str | os.PathLike]) -> "LabelSet":
    """Models can only be compared on classes they all know, in the same order: the first
    run's LabelSet, or a DataError naming the run that differs."""
    from app.artifacts.run import read_labels

    first, first_labels = paths[0], read_labels(paths[0])
    for path in paths[1:]:
        labels = read_labels(path)
        if (labels.values, labels.names) != (first_labels.values, first_labels.names):
            raise DataError(
                f"{path}: trained on labels {', '.join(labels.names)} ({', '.join(labels.values)}), but {first} on "
                f"{', '.join(first_labels.names)} ({', '.join(first_labels.values)}); models trained on different "
                "label sets cannot be compared")
    return first_labels


def score_model(classifier: "Classifier", texts: list[str], y_true: np.ndarray, group: str | None = None) -> ModelResult:
    """Predict ``texts`` end to end with a Classifier (tokenizing included, no cache) and time it."""
    from app.evaluation.metrics import classification_metrics
    from app.inference.classifier import OK

    started = time.perf_counter()
    probabilities, status = classifier.predict_proba(texts)
    seconds = time.perf_counter() - started
    scored = status == OK
    metrics = classification_metrics(y_true[scored], probabilities[scored], classifier.labels)
    run = classifier.run
    return ModelResult(
        name=run.path.name,
        group=group or run.config.name or run.config.model.cell,
        cell=run.config.model.cell,
        probabilities=probabilities,
        metrics=metrics,
        params=run.params,
        history=run.history,
        predict_per_second=len(texts) / seconds,
        size_mib=(run.path / "model.keras").stat().st_size / 2**20,
        trained=run.metrics,
    )


def recurrent_rows(params: list[dict]) -> list[dict]:
    """The rows of the parameter table that belong to recurrent layers."""
    return [row for row in params if row.get("recurrent", row["type"] in OLDER_RECURRENT_TYPES)]


# ----------------------------------------------------------------------------- summary

def summarize(results: list[ModelResult], y_true: np.ndarray, lengths: Sequence[int] | np.ndarray,
              names: list[str]) -> dict:
    """The comparison as plain data (what the JSON holds and every view renders).

    Only comments that every model could predict are scored, so all models are
    judged on exactly the same test comments.
    """
    from app.evaluation.metrics import classification_metrics

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


def length_masks(lengths: np.ndarray) -> Iterator[tuple[str, np.ndarray]]:
    """(label, boolean mask) for each LENGTH_BUCKETS bucket of comment lengths in tokens."""
    for low, high in LENGTH_BUCKETS:
        label = f"{low}-{high}" if high else f"{low}+"
        yield label, (lengths >= low) & (lengths <= (high or np.inf))


# ----------------------------------------------------------------------------- the whole comparison

def check_comparable(configs: list["Config"], paths: list[str]) -> None:
    """Configs compared in one training must read and tokenize the data identically, and
    start from the same pretrained vectors (so, when they pretrain, of one size).
    Raises ConfigError naming the first setting that differs."""
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
                    f"compared must share data, tokenizer and pretrain settings", parameter=f"{section}.{key}")


def unique_names(names: list[str]) -> list[str]:
    """``names`` with repeats made distinct: lstm, lstm -> lstm, lstm-2."""
    unique = []
    for base in names:
        name, k = base, 1
        while name in unique:
            k += 1
            name = f"{base}-{k}"
        unique.append(name)
    return unique


def model_groups(paths: Sequence[str | os.PathLike]) -> list[str]:
    """A table row per run directory given, except that runs named <model>-seed<N>, as
    train.py --compare saves them, are seeds of one row <model>."""
    names = [Path(path).resolve().name for path in paths]
    seeded = [SEED_SUFFIX.sub("", name) for name in names]
    return [group if group != name else unique for group, name, unique in zip(seeded, names, unique_names(names))]


def compare_configs(configs: list, config_paths: list[str], seeds: list[int], models_dir: str | os.PathLike,
                    name: str, command: str, setup: Callable[[], None] | None = None) -> tuple[Path, dict]:
    """Train every config with every seed on the same tokens, splits and test set, then
    compare them; returns (the comparison directory, its summary).

    A config's row is named by its ``name`` or its file's stem (made unique). Each model
    trains in a process of its own (``setup`` runs first there); the comparison and
    every model's run are written under ``models_dir/name`` atomically.
    """
    from app.artifacts.run import check_run_name
    from app.training.run import prepare_data, train_in_subprocess

    check_comparable(configs, config_paths)
    check_run_name(name)
    groups = unique_names([config.name or Path(path).stem for config, path in zip(configs, config_paths)])
    log.info(f"comparing {', '.join(groups)} with seeds {', '.join(map(str, seeds))}")
    prepared = prepare_data(configs[0])  # once, for every model: the same tokens and test set
    with (directory := AtomicDirectory(Path(models_dir) / name)) as staging:
        runs, total = [], len(seeds) * len(configs)
        for seed in seeds:
            for group, config in zip(groups, configs):
                config = dataclasses.replace(config, train=dataclasses.replace(config.train, seed=seed))
                log.info(f"\n=== {group}, seed {seed} ({len(runs) + 1}/{total})")
                runs.append((group, train_in_subprocess(config, prepared, staging, f"{group}-seed{seed}", setup)))
        log.info("")
        lengths = [len(tokens) for tokens in prepared.test_tokens]
        summary = compare_runs(runs, prepared.test_texts, prepared.y_test, staging, command, lengths)
    return directory.path, summary


def compare_saved(paths: list[str], data_file: str, report_dir: str | os.PathLike, command: str,
                  runtime: str = "keras", **data_settings: object) -> tuple[Path, dict]:
    """Score saved runs on one labeled file, each with its own tokenizer, and compare
    them; returns (the comparison directory, its summary). ``runtime``: as
    Classifier.load takes it (onnx: each run's ONNX export).

    ``data_settings`` override the first run's data section (text_column, label_column,
    format, encoding, encoding_errors) where given (not None).
    """
    from app.artifacts.run import check_run_name, read_config
    from app.data.readers import load_labeled

    # Cheap checks first: every model readable, the same label set, the file labeled
    configs = [read_config(path) for path in paths]
    labels = check_same_labels(paths)
    report_dir = Path(report_dir)
    check_run_name(report_dir.name)
    given = {key: value for key, value in data_settings.items() if value is not None}
    data = dataclasses.replace(configs[0].data, format=None, encoding=None, **given)
    frame, dropped, source = load_labeled(data_file, data)
    y_true = labels.encode(frame[data.label_column])
    if (y_true < 0).any():
        log.info(f"{source}: {int((y_true < 0).sum()):,} rows have a label the models do not know "
                 f"(they know {', '.join(labels.values)}); not scored", extra=PROGRESS)
    texts = [text for text, known in zip(frame[data.text_column], y_true >= 0) if known]
    log.info(f"{source}: scoring {len(texts):,} labeled comments (dropped {sum(dropped.values()):,} without text "
             "or label)", extra=PROGRESS)
    with (directory := AtomicDirectory(report_dir)) as staging:
        runs = list(zip(model_groups(paths), map(Path, paths)))
        summary = compare_runs(runs, texts, y_true[y_true >= 0], staging, command, runtime=runtime)
    return directory.path, summary


def compare_runs(runs: list[tuple[str, Path]], texts: list[str], y_true: np.ndarray, directory: str | os.PathLike,
                 command: str, lengths: list[int] | None = None, runtime: str = "keras") -> dict:
    """Score saved runs on one test set and write the comparison into ``directory``.

    ``runs`` are (model name, run directory) pairs; runs sharing a name are seeds of
    one model. ``lengths`` are the test comments' lengths in tokens (default: by the
    first run's tokenizer); ``runtime``: keras or onnx, as Classifier.load takes it. Writes comparison.{json,csv,md}, the figures and
    report.html; returns the summary.
    """
    from app.inference.classifier import Classifier
    from app.reporting import plots
    from app.reporting.html import write_report

    check_same_labels([path for _, path in runs])
    classifiers = [Classifier.load(path, runtime=runtime) for _, path in runs]
    if lengths is None:
        lengths = [len(tokens) for tokens in classifiers[0].encode(texts)[0]]
    results = []
    for (group, _), classifier in zip(runs, classifiers):
        log.info(f"scoring {classifier.path.name} on {len(texts):,} test comments")
        with classifier:
            results.append(score_model(classifier, texts, y_true, group))
    names = classifiers[0].labels
    summary = summarize(results, y_true, lengths, names)
    write_comparison(summary, directory)
    figures = plots.plot_comparison(results, summary, y_true, directory)
    write_report(summary, figures, directory, command)
    return summary
