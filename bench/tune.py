"""The tuning bench (issue 24): configs/tune.yaml's study over cell, units, layers,
dropout, learning rate and vocabulary size on --rows NSMC training reviews, then the
tuned config against configs/lstm.yaml trained on the same rows (data.max_rows, the
same seed: the same reviews), both scored once on the NSMC test set.

    python bench/tune.py [--trials 20] [--rows 30000] [--timeout-minutes 60] [--resume]

The study is models/bench-tune-<rows>/ (report.html there), the lstm.yaml run
models/bench-lstm-<rows>/. The search's first trial is lstm.yaml's own values, so the
study's validation figures include it too. The machine's load average is recorded at
the start and the end: other work on the machine slows the trials. Writes
bench/tune.json and prints a summary.
"""

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

from app.cli.common import prepare_process
from app.config import load_config
from app.files import write_json_atomically
from app.tuning.space import load_tuning_config

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--rows", type=int, default=30000, help="NSMC training reviews (data.max_rows)")
    parser.add_argument("--timeout-minutes", type=float, default=60, help="no new trial starts after this (search.timeout_minutes)")
    parser.add_argument("--resume", action="store_true", help="continue the study of an interrupted bench")
    parser.add_argument("--output", default=str(ROOT / "bench" / "tune.json"))
    args = parser.parse_args()
    prepare_process(False)
    from app.training.run import train
    from app.tuning.study import tune

    rows = [f"data.max_rows={args.rows}"]
    tuning = dataclasses.replace(load_tuning_config(ROOT / "configs" / "tune.yaml", rows), timeout_minutes=args.timeout_minutes)
    load_start, started = os.getloadavg()[0], time.perf_counter()
    result = tune(tuning, args.trials, models_dir=ROOT / "models", name=f"bench-tune-{args.rows}", resume=args.resume,
                  command="python bench/tune.py " + " ".join(sys.argv[1:]))
    study_minutes = (time.perf_counter() - started) / 60
    lstm = train(load_config(ROOT / "configs" / "lstm.yaml", rows), models_dir=ROOT / "models", name=f"bench-lstm-{args.rows}")
    summary = json.loads((result.directory / "results.json").read_text(encoding="utf-8"))
    kept = lstm.metrics["best_epoch"]
    report = {
        "command": "python bench/tune.py " + " ".join(sys.argv[1:]),
        "rows": args.rows,
        "trials_asked": args.trials,
        "timeout_minutes": args.timeout_minutes,
        "counts": result.counts,
        "study_minutes_this_session": round(study_minutes, 1),  # the search, the best config's retraining included
        "load_average": {"start": round(load_start, 2), "end": round(os.getloadavg()[0], 2)},
        "cpu_cores": os.cpu_count(),
        "search": summary["search"],
        "tuned": {"trial": result.best.number, "params": result.best.params, "val_loss": result.best.value,
                  **{key: result.run.metrics[key] for key in ("accuracy", "macro_f1", "roc_auc")},
                  "run": str(result.run.path.relative_to(ROOT))},
        "lstm_yaml": {"val_loss": lstm.history["val_loss"][kept - 1],
                      **{key: lstm.metrics[key] for key in ("accuracy", "macro_f1", "roc_auc")},
                      "run": str(lstm.path.relative_to(ROOT))},
        "trials": [{key: row[key] for key in ("trial", "state", "value", "epochs", "seconds", "params", "failure")}
                   for row in summary["trials"]],
        "report": str((result.directory / "report.html").relative_to(ROOT)),
    }
    report["test_accuracy_difference"] = report["tuned"]["accuracy"] - report["lstm_yaml"]["accuracy"]
    write_json_atomically(args.output, report)
    print(f"\n{sum(result.counts.values())} trials ({result.counts}) in {study_minutes:.1f} min this session; "
          f"tuned (trial {result.best.number}) test accuracy {report['tuned']['accuracy']:.4f} against lstm.yaml "
          f"{report['lstm_yaml']['accuracy']:.4f} on the same {args.rows:,} rows; wrote {args.output}")


if __name__ == "__main__":
    main()
