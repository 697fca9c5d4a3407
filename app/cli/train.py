"""Train a recurrent sentiment model from a YAML config and save it under models/.

    python train.py                                    # configs/lstm.yaml on NSMC
    python train.py --config configs/gru.yaml --set model.units=64 --set train.epochs=3
    python train.py --config configs/quick.yaml        # the bundled sample, in seconds
    python train.py --data nsmc3                       # the 3-class NSMC sample
    python train.py --data my_comments.csv --set data.text_column=review --set data.label_column=rating
    python train.py --compare configs/simple_rnn.yaml configs/lstm.yaml configs/gru.yaml --seeds 3
    python train.py --tune configs/tune.yaml --trials 30  # a hyperparameter search; --resume continues it
    TF_CONFIG='{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}' \
        python train.py --distributed                  # on each worker, with its own task.index
"""

import argparse
import functools
import json
import os
import sys
import time

from app.cli.common import (
    add_verbose_flag,
    integer_at_least,
    prepare_process,
    run_command,
    stop_on_sigterm,
)

DATA_SHORTCUTS = {  # --data NAME: the files, and the names of their labels
    "nsmc": {"train": "nsmc:train", "test": "nsmc:test", "label_names": {0: "negative", 1: "positive"}},
    "nsmc3": {"train": "nsmc:train3", "test": None, "label_names": {0: "negative", 1: "neutral", 2: "positive"}},
}


FLAGS = {  # the library's parameter -> this tool's flag, added to its errors
    "format": "--set data.format=tsv, csv, jsonl or txt",
    "encoding": "--set data.encoding=..., or --set data.encoding_errors=replace",
    "text_column": "--text-column",
    "label_column": "--label-column",
}


def flag_for(parameter: str) -> str | None:
    """This tool's flag for a parameter the library names; a config key is set with --set."""
    return f"align them with --set {parameter}=..." if "." in parameter else FLAGS.get(parameter)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The parsed and cross-checked command line; argparse exits on a usage error."""
    parser = argparse.ArgumentParser(prog="train.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/lstm.yaml", help="YAML config (default: %(default)s)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, e.g. --set model.units=64 (repeatable)")
    parser.add_argument("--data", help="nsmc, nsmc3, or a labeled file (then a test split is held out)")
    parser.add_argument("--test", help="a labeled test file (instead of holding a split of --data out)")
    parser.add_argument("--text-column", help="the column holding the comments (data.text_column)")
    parser.add_argument("--label-column", help="the column holding the labels (data.label_column)")
    parser.add_argument("--label-names", metavar="MAPPING",
                        help="display names of the labels, e.g. \"{0: 부정, 1: 긍정}\" (data.label_names)")
    parser.add_argument("--name", help="run directory name under --models-dir (default: <cell>-<time>)")
    parser.add_argument("--models-dir", default="models", help="where runs are saved (default: %(default)s)")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted training of the same config from its last completed epoch")
    parser.add_argument("--distributed", action="store_true",
                        help="train on the workers TF_CONFIG lists, this process being its task "
                             "(tf.distribute.MultiWorkerMirroredStrategy; docs/distributed.md)")
    parser.add_argument("--compare", nargs="+", metavar="CONFIG",
                        help="train these configs on the same data and compare them (instead of --config)")
    parser.add_argument("--seeds", type=integer_at_least(1), default=1,
                        help="with --compare: train each config this many times, seeds from train.seed on (default: 1)")
    parser.add_argument("--tune", metavar="CONFIG", help="search the hyperparameters of a config with a search "
                        "section (docs/tuning.md); the study is --models-dir/--name (default: the file's name)")
    parser.add_argument("--trials", type=integer_at_least(1),
                        help="with --tune: the trials the study holds when it ends (default: 30)")
    add_verbose_flag(parser)
    args = parser.parse_args(argv)
    if args.compare and args.resume:
        parser.error("--resume continues one training; it does not apply to --compare")
    if args.distributed and (args.compare or args.tune):
        parser.error(f"--distributed trains one config; it does not apply to {'--compare' if args.compare else '--tune'}")
    if args.seeds > 1 and not args.compare:
        parser.error("--seeds needs --compare")
    if args.tune and args.compare:
        parser.error("--tune and --compare are two commands: give one")
    if args.trials is not None and not args.tune:
        parser.error("--trials needs --tune")
    return args


def data_overrides(args: argparse.Namespace) -> list[str]:
    """The data flags as config overrides. ``--data`` with a file of its own has a test
    split held out (unless --test names one) and keeps its labels as they are written.
    (JSON values are valid YAML values.)"""
    values = {}
    if args.data:
        values = dict(DATA_SHORTCUTS.get(args.data, {"train": args.data, "test": None, "label_names": None}))
    for key in ("test", "text_column", "label_column"):
        if getattr(args, key) is not None:
            values[key] = getattr(args, key)
    overrides = [f"data.{key}={json.dumps(value, ensure_ascii=False)}" for key, value in values.items()]
    if args.label_names is not None:  # a YAML mapping as written
        overrides.append(f"data.label_names={args.label_names}")
    return overrides


def main(argv: list[str] | None = None) -> int:
    """Train one config (or compare several) as the flags say, and return the exit status."""
    args = parse_args(argv)
    prepare_process(args.verbose)
    stop_on_sigterm()
    overrides = data_overrides(args) + args.set  # --set comes last: it has the final word
    if args.tune:
        from app.cli.tune import tune

        return run_command(lambda: tune(args, overrides), flag_for)
    if args.compare:
        return run_command(lambda: compare(args, overrides), flag_for)
    return run_command(lambda: train(args, overrides), flag_for)


def train(args: argparse.Namespace, overrides: list[str]) -> int:
    """Train the config with ``overrides`` and save the run under --models-dir; returns 0."""
    from app.config import check_data_files, load_config

    config = load_config(args.config, overrides)
    check_data_files(config)  # before TensorFlow loads: a typo or a missing file fails in a moment
    cluster = None
    if args.distributed:  # so is a malformed TF_CONFIG
        from app.training.distributed import check_distributable, read_cluster

        cluster = read_cluster(os.environ.get("TF_CONFIG"))
        check_distributable(config, cluster)
    from app.training.run import checkpoint_dir, train

    try:
        run = train(config, models_dir=args.models_dir, name=args.name, resume=args.resume, cluster=cluster)
    except KeyboardInterrupt:
        checkpoint = checkpoint_dir(args.models_dir, config)
        if checkpoint.exists():
            print(f"\ninterrupted: the work completed so far is kept in {checkpoint}; "
                  f"run the same command with --resume to continue", file=sys.stderr)
        raise
    if run is None:
        print(f"{cluster}: training done; worker 0, the chief, saves the run")
        return 0
    print(f"try: python predict.py --model {run.path} --text \"배우들 연기가 정말 좋았어요\"")
    return 0


def compare(args: argparse.Namespace, overrides: list[str]) -> int:
    """Train every config on the same tokens, splits and seeds, then compare them."""
    from app.config import check_data_files, load_config

    configs = [load_config(path, overrides) for path in args.compare]
    for config in configs:
        check_data_files(config)
    from app.comparison.compare import compare_configs
    from app.reporting.tables import format_text

    seeds = [configs[0].train.seed + k for k in range(args.seeds)]
    name = args.name or f"comparison-{time.strftime('%Y%m%d-%H%M%S')}"
    command = "python train.py " + " ".join(sys.argv[1:])
    final, summary = compare_configs(configs, args.compare, seeds, args.models_dir, name, command,
                                     setup=functools.partial(prepare_process, args.verbose))
    print("\n" + format_text(summary))
    print(f"\nsaved {final}: comparison.md, comparison.csv, comparison.json, report.html and each model's run")
    return 0

