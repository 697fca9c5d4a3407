"""Metrics from scikit-learn and their plain-text rendering."""

import numpy as np
from sklearn import metrics as skm

from app import display


def classification_metrics(y_true: np.ndarray, probabilities: np.ndarray, names: list[str]) -> dict:
    """Accuracy, macro-F1, per-class precision/recall/F1, confusion matrix, ROC-AUC (2 classes).

    ``y_true`` holds class indices into ``names``; ``probabilities`` is (n, classes).
    """
    labels = list(range(len(names)))
    y_pred = probabilities.argmax(axis=1)
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    result = {
        "n": int(len(y_true)),
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "macro_f1": float(skm.f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "per_class": {
            name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for name, p, r, f, s in zip(names, precision, recall, f1, support)
        },
        "confusion_matrix": skm.confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "roc_auc": None,
    }
    if len(names) == 2 and len(np.unique(y_true)) == 2:
        result["roc_auc"] = float(skm.roc_auc_score(y_true, probabilities[:, 1]))
    return result


def format_metrics(result: dict, names: list[str]) -> str:
    """A short report: headline numbers, per-class table, confusion matrix."""
    lines = [f"accuracy {result['accuracy']:.4f}   macro-F1 {result['macro_f1']:.4f}"
             + (f"   ROC-AUC {result['roc_auc']:.4f}" if result["roc_auc"] is not None else "")
             + f"   ({result['n']:,} comments)"]
    width = max(8, *(display.width(n) for n in names))
    column = max(10, *(display.width(n) + 2 for n in names))
    lines.append(f"  {display.ljust('class', width)}  precision  recall    f1   support")
    for name, row in result["per_class"].items():
        lines.append(f"  {display.ljust(name, width)}  {row['precision']:9.4f}  {row['recall']:6.4f}  {row['f1']:.4f}  {row['support']:>7,}")
    lines.append("  confusion matrix (rows: true, columns: predicted)")
    lines.append("  " + " " * width + "".join(display.rjust(n, column) for n in names))
    for name, row in zip(names, result["confusion_matrix"]):
        lines.append(f"  {display.ljust(name, width)}" + "".join(display.rjust(f"{v:,}", column) for v in row))
    return "\n".join(lines)


BOOTSTRAP_RESAMPLES = 2000


def bootstrap_difference(correct_best: np.ndarray, correct_other: np.ndarray, resamples: int = BOOTSTRAP_RESAMPLES,
                         seed: int = 0) -> dict:
    """Paired bootstrap over test comments of the accuracy difference best - other.

    ``correct_*`` give, per comment, the share of a group's runs that got it right
    (0/1 for a single run). Resampling the same comments for both models keeps the
    pairing: the 95% interval says how much the lead could change with another
    sample of comments. The lead is significant when the interval excludes 0.
    Returns difference, ci_low, ci_high, p_value and significant.
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


def predicted_by_all(results: list) -> np.ndarray:
    """A mask of the test comments every model gave a prediction (the ones scored);
    ``results`` have ``probabilities`` with NaN rows where a model gave none."""
    return np.all([~np.isnan(r.probabilities).any(axis=1) for r in results], axis=0)
