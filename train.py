"""Train a recurrent sentiment model from a YAML config and save it under models/.

    python train.py                                    # configs/lstm.yaml on NSMC
    python train.py --config configs/gru.yaml --set model.units=64 --set train.epochs=3
    python train.py --config configs/quick.yaml        # the bundled sample, in seconds
    python train.py --data nsmc3                       # the 3-class NSMC sample
    python train.py --compare configs/simple_rnn.yaml configs/lstm.yaml configs/gru.yaml --seeds 3
"""

import argparse
import hashlib
import json
import signal
import sys
import time
from pathlib import Path

from app.errors import BundleError, integer_at_least, run_command  # standard library only: cheap to import

DATA_SHORTCUTS = {  # --data NAME: the files, and the names of their labels
    "nsmc": {"train": "nsmc:train", "test": "nsmc:test", "label_names": {0: "negative", 1: "positive"}},
    "nsmc3": {"train": "nsmc:train3", "test": None, "label_names": {0: "negative", 1: "neutral", 2: "positive"}},
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/lstm.yaml", help="YAML config (default: %(default)s)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, e.g. --set model.units=64 (repeatable)")
    parser.add_argument("--data", help="nsmc, nsmc3, or a labeled file (then a test split is held out)")
    parser.add_argument("--name", help="run directory name under --models-dir (default: <cell>-<time>)")
    parser.add_argument("--models-dir", default="models", help="where runs are saved (default: %(default)s)")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted training of the same config from its last completed epoch")
    parser.add_argument("--compare", nargs="+", metavar="CONFIG",
                        help="train these configs on the same data and compare them (instead of --config)")
    parser.add_argument("--seeds", type=integer_at_least(1), default=1,
                        help="with --compare: train each config this many times, seeds from train.seed on (default: 1)")
    args = parser.parse_args(argv)
    if args.compare and args.resume:
        parser.error("--resume continues one training; it does not apply to --compare")
    if args.seeds > 1 and not args.compare:
        parser.error("--seeds needs --compare")
    return args


def data_overrides(data):
    """``--data`` as config overrides; a file of its own has a test split held out and
    keeps its labels as they are written. (JSON values are valid YAML values.)"""
    values = DATA_SHORTCUTS.get(data, {"train": data, "test": None, "label_names": None})
    return [f"data.{key}={json.dumps(value, ensure_ascii=False)}" for key, value in values.items()]


def main(argv=None):
    args = parse_args(argv)
    # Imports happen here, not at the top: tokenizer worker processes re-import
    # this file and must not pay for loading TensorFlow.
    from app.config import load_config

    # `kill` (SIGTERM) stops training the way Ctrl-C does: the epoch checkpoint stays
    # for --resume and no half-written run is left under models/
    signal.signal(signal.SIGTERM, _interrupt)
    # The config is validated before TensorFlow loads: a typo fails in a moment.
    overrides = (data_overrides(args.data) if args.data else []) + args.set
    if args.compare:
        return run_command(lambda: compare([load_config(path, overrides) for path in args.compare], args))
    return run_command(lambda: train(load_config(args.config, overrides), args))


def train(config, args):
    from app.bundle import check_run_name

    # checked now, not after an hour of training
    run_name = check_run_name(args.name or f"{config.name or config.model.cell}-{time.strftime('%Y%m%d-%H%M%S')}")
    checkpoint = Path(args.models_dir) / ".checkpoints" / config_key(config)
    resuming = args.resume and checkpoint.is_dir()  # an epoch's checkpoint, or a distilling teacher's labels
    if args.resume and not resuming:
        raise BundleError(f"{checkpoint}: no interrupted training of this config to resume")

    from app.experiment import prepare_data, save_run, train_model

    # 1. Labeled comments and a test set, tokenized
    prepared = prepare_data(config)

    # 2. Vocabulary, model and training (every epoch is checkpointed, so an
    #    interrupted run can continue with --resume), then the test metrics
    if resuming:
        print(f"resuming from the checkpoint in {checkpoint}")
    elif checkpoint.exists():
        print("note: an interrupted training of this config was found; starting over (--resume continues it)")
    try:
        trained = train_model(config, prepared, checkpoint_dir=checkpoint, resume=resuming)
    except KeyboardInterrupt:
        if checkpoint.exists():
            print(f"\ninterrupted: the work completed so far is kept in {checkpoint}; "
                  f"run the same command with --resume to continue", file=sys.stderr)
        raise
    if trained is None:  # diverged
        return 1

    # 3. The saved run
    run_dir = save_run(args.models_dir, run_name, config, prepared, trained)
    print(f"saved {run_dir}")
    print(f"try: python predict.py --model {run_dir} --text \"배우들 연기가 정말 좋았어요\"")
    return 0


def compare(configs, args):
    """Train every config on the same tokens, splits and seeds, then compare them."""
    import dataclasses
    import shutil

    from app.bundle import check_run_name, make_staging, publish
    from app.compare import check_comparable, compare_runs, format_text, unique_names
    from app.experiment import prepare_data, train_in_subprocess

    check_comparable(configs, args.compare)
    name = check_run_name(args.name or f"comparison-{time.strftime('%Y%m%d-%H%M%S')}")
    groups = unique_names([config.name or Path(path).stem for config, path in zip(configs, args.compare)])
    seeds = [configs[0].train.seed + k for k in range(args.seeds)]
    print(f"comparing {', '.join(groups)} with seeds {', '.join(map(str, seeds))}")

    prepared = prepare_data(configs[0])  # once, for every model: the same tokens and test set
    staging = make_staging(args.models_dir, name)
    try:
        runs, total = [], len(seeds) * len(configs)
        for seed in seeds:
            for group, config in zip(groups, configs):
                config = dataclasses.replace(config, train=dataclasses.replace(config.train, seed=seed))
                print(f"\n=== {group}, seed {seed} ({len(runs) + 1}/{total})", flush=True)
                runs.append((group, train_in_subprocess(config, prepared, staging, f"{group}-seed{seed}")))
        print()
        command = "python train.py " + " ".join(sys.argv[1:])
        lengths = [len(tokens) for tokens in prepared.test_tokens]
        summary = compare_runs(runs, prepared.test_texts, prepared.y_test, staging, command, lengths)
        final = publish(staging, args.models_dir, name)
    except BaseException:  # Ctrl-C included: no half-written comparison stays behind
        shutil.rmtree(staging, ignore_errors=True)
        raise
    print("\n" + format_text(summary))
    print(f"\nsaved {final}: comparison.md, comparison.csv, comparison.json, report.html and each model's run")
    return 0


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def config_key(config):
    """Names a config's checkpoint folder: the same resolved config, the same key."""
    return hashlib.sha256(json.dumps(config.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


if __name__ == "__main__":
    sys.exit(main())
