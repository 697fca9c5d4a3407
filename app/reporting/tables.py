"""Tables people read: a run's parameter table with its formulas, and a comparison's
table, significance and accuracy by length, as terminal text, Markdown and CSV."""

import csv
import os
from pathlib import Path

from app.display import aligned
from app.evaluation.metrics import BOOTSTRAP_RESAMPLES
from app.files import write_json_atomically
from app.modeling.parameters import formula_notes


def format_parameter_table(rows: list[dict]) -> str:
    """Keras's count, the closed-form formula worked out, and whether they agree."""
    header = ("layer", "type", "output shape", "params", "formula", "worked out", "agrees")
    body = [(r["layer"], r["type"], r["output_shape"], f"{r['params']:,}", r["formula"], f"{r['worked']} = {r['expected']:,}", "yes" if r["agrees"] else "NO")
            for r in rows]
    total = sum(r["params"] for r in rows)
    return "\n".join([aligned(header, body), f"total parameters: {total:,}", formula_notes()])


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


def table_cells(summary: dict) -> tuple[list[str], list[list[str]]]:
    """The table as text cells: a header row, then one row per model, best first."""
    header = [title for title, _, _ in COLUMNS]
    body = [["-" if row[key] is None else fmt.format(row[key]) for _, key, fmt in COLUMNS] for row in summary["models"]]
    return header, body


def significance_lines(summary: dict) -> tuple[list[str], str]:
    """One sentence per comparison of the best model with another, and how the test was made."""
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


def length_cells(summary: dict) -> tuple[list[str], list[list[str]]]:
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


def format_text(summary: dict) -> str:
    """What the terminal shows."""
    lines, how = significance_lines(summary)
    parts = [aligned(*table_cells(summary)), "", f"significance ({how}):", *(f"  {line}" for line in lines),
             "", "accuracy by comment length:", aligned(*length_cells(summary))]
    if summary["left_out"]:
        parts.append(f"\n{summary['left_out']:,} test comments were left out: some model had no prediction for them")
    return "\n".join(parts)


def format_markdown(summary: dict) -> str:
    """What comparison.md holds: the table, the significance tests and accuracy by length, in Markdown."""
    lines, how = significance_lines(summary)
    return "\n".join([
        f"## Comparison on {summary['test_comments']:,} test comments", "",
        _markdown_table(*table_cells(summary)), "",
        f"Significance ({how}):", "", *(f"- {line}" for line in lines), "",
        "Accuracy by comment length in tokens:", "",
        _markdown_table(*length_cells(summary)), "",
    ])


def write_comparison(summary: dict, directory: str | os.PathLike) -> None:
    """comparison.json (everything), comparison.csv (the table, raw numbers), comparison.md."""
    directory = Path(directory)
    write_json_atomically(directory / "comparison.json", summary)
    with open(directory / "comparison.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([key for _, key, _ in COLUMNS])
        for row in summary["models"]:
            writer.writerow(["" if row[key] is None else row[key] for _, key, _ in COLUMNS])
    (directory / "comparison.md").write_text(format_markdown(summary), encoding="utf-8")


def _markdown_table(header, body):
    escape = lambda cell: cell.replace("|", "\\|")
    rows = [header, ["---"] * len(header), *body]
    return "\n".join("| " + " | ".join(map(escape, row)) + " |" for row in rows)
