"""``python train.py --tune configs/tune.yaml --trials 30 [--resume]``: a hyperparameter
search (app.tuning), started from train.py's flags."""

import argparse
import sys

DEFAULT_TRIALS = 30  # --trials


def tune(args: argparse.Namespace, overrides: list[str]) -> int:
    """Validate the tuning config, run the study under --models-dir/--name and print where its results are; returns 0."""
    from app.config import check_data_files
    from app.tuning.space import load_tuning_config

    tuning = load_tuning_config(args.tune, overrides)  # the search is checked before TensorFlow loads
    check_data_files(tuning.base)
    from app.tuning.study import tune

    name = args.name or tuning.path.stem
    try:
        result = tune(tuning, args.trials or DEFAULT_TRIALS, models_dir=args.models_dir, name=name, resume=args.resume,
                      command="python train.py " + " ".join(sys.argv[1:]))
    except KeyboardInterrupt:
        print(f"\ninterrupted: every finished trial is kept in {args.models_dir}/{name}/study.db; "
              "run the same command with --resume to continue", file=sys.stderr)
        raise
    print(f"saved {result.directory}: best.yaml, report.html, results.json and the best trial's run {result.run.path.name}")
    print(f"train it: python train.py --config {result.best_config}")
    return 0
