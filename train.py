"""Train a recurrent sentiment model from a YAML config and save it under models/.

    python train.py                                    # configs/lstm.yaml on NSMC
    python train.py --config configs/gru.yaml --set model.units=64 --set train.epochs=3
    python train.py --config configs/quick.yaml        # the bundled sample, in seconds
    python train.py --data nsmc3                       # the 3-class NSMC sample
"""

import argparse
import hashlib
import json
import signal
import sys
import time
from pathlib import Path

from app.errors import BundleError, DataError, run_command  # standard library only: cheap to import

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
    return parser.parse_args(argv)


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
    return run_command(lambda: train(load_config(args.config, overrides), args))


def train(config, args):
    from app.bundle import check_run_name

    # checked now, not after an hour of training
    run_name = check_run_name(args.name or f"{config.name or config.model.cell}-{time.strftime('%Y%m%d-%H%M%S')}")
    checkpoint = Path(args.models_dir) / ".checkpoints" / config_key(config)
    resuming = args.resume and (checkpoint / "state.json").exists()
    if args.resume and not resuming:
        raise BundleError(f"{checkpoint}: no interrupted training of this config to resume")

    import numpy as np

    from app import report
    from app.bundle import save_bundle
    from app.data import LabelSet, load_labeled
    from app.evaluate import classification_metrics, format_metrics
    from app.models import build_model, class_probabilities, parameter_table, recurrent_parameters
    from app.tokenizer import Tokenizer
    from app.training import best_epoch, fit, set_seed, stratified_split
    from app.vocab import Vocabulary

    data, train_cfg = config.data, config.train
    set_seed(train_cfg.seed)

    # 1. Data: labeled comments, a test set, a stratified validation split
    frame, dropped, source = load_labeled(data.train, data)
    print(f"read {len(frame):,} comments from {source} (dropped {dropped['empty_text']:,} with empty text, "
          f"{dropped['missing_label']:,} without a label)")
    if data.max_rows and len(frame) > data.max_rows:
        frame = frame.sample(n=data.max_rows, random_state=train_cfg.seed).reset_index(drop=True)
        print(f"using a random {data.max_rows:,} of them (data.max_rows)")
    labels = LabelSet.fit(frame[data.label_column], data.label_names, source)
    y = labels.encode(frame[data.label_column])
    texts = frame[data.text_column].tolist()
    if data.test:
        test_frame, test_dropped, test_source = load_labeled(data.test, data)
        y_test = labels.encode(test_frame[data.label_column])
        unknown = int((y_test < 0).sum())
        if unknown == len(y_test):
            raise DataError(f"{test_source}: none of its labels are in the training data ({', '.join(labels.values)})")
        if unknown:
            print(f"warning: {unknown:,} test rows have labels the training data lacks; they are left out")
        test_texts = [t for t, keep in zip(test_frame[data.text_column], y_test >= 0) if keep]
        y_test = y_test[y_test >= 0]
        print(f"read {len(test_texts):,} test comments from {test_source} (dropped {sum(test_dropped.values()):,})")
    else:
        keep, held_out = stratified_split(y, data.test_split, train_cfg.seed)
        test_texts, y_test = [texts[i] for i in held_out], y[held_out]
        texts, y = [texts[i] for i in keep], y[keep]
        print(f"no test file: holding out {len(test_texts):,} comments ({data.test_split:.0%}) as the test set")
    print(f"classes: {', '.join(f'{n} ({c:,})' for n, c in zip(labels.names, np.bincount(y, minlength=len(labels.names))))}")

    # 2. Tokens, then the vocabulary from the training part only
    tokenizer = Tokenizer.from_config(config.tokenizer)
    tokens = tokenizer.tokenize(texts, progress=True)
    _log_tokenizing(tokenizer, "train")
    tokenizing = dict(tokenizer.last_run)
    test_tokens = tokenizer.tokenize(test_texts, progress=True)
    _log_tokenizing(tokenizer, "test")
    tokenizer.close()
    fit_rows, val_rows = stratified_split(y, train_cfg.validation_split, train_cfg.seed)
    vocab = Vocabulary.fit([tokens[i] for i in fit_rows], config.vocab.max_size, config.vocab.min_count)
    length, truncate = config.vocab.max_length, config.vocab.truncate
    ids, test_ids = vocab.encode(tokens, length, truncate), vocab.encode(test_tokens, length, truncate)
    print(f"vocabulary: {len(vocab):,} tokens (max_size {config.vocab.max_size:,}, min_count {config.vocab.min_count})")
    coverage = {}
    for part, part_tokens in (("train", tokens), ("test", test_tokens)):
        coverage[part] = vocab.stats(part_tokens, length)
        s = coverage[part]
        print(f"  {part}: {s['covered_whole']:.1%} of comments fit whole in max_length {length} "
              f"(mean {s['mean_tokens']:.1f} tokens, 95th percentile {s['p95_tokens']:.0f}); OOV rate {s['oov_rate']:.2%}")

    # 3. The model, and where each layer's parameters come from
    model = build_model(config.model, len(vocab), len(labels.names))
    params = parameter_table(model)
    print(report.format_parameter_table(params))

    # 4. Training, with early stopping on the validation split; every epoch is
    #    checkpointed so that an interrupted run can continue (--resume)
    if resuming:
        print(f"resuming from the checkpoint in {checkpoint}")
    elif checkpoint.exists():
        print("note: an interrupted training of this config was found; starting over (--resume continues it)")
    started = time.perf_counter()
    try:
        fitted = fit(model, (ids[fit_rows], y[fit_rows]), (ids[val_rows], y[val_rows]), train_cfg, len(labels.names),
                     checkpoint_dir=checkpoint, resume=resuming)
    except KeyboardInterrupt:
        if checkpoint.exists():
            print(f"\ninterrupted: the last completed epoch is kept in {checkpoint}; "
                  f"run the same command with --resume to continue", file=sys.stderr)
        raise
    model, history = fitted.model, fitted.history
    train_seconds = time.perf_counter() - started
    if not all(np.isfinite(history["loss"])):
        print("error: the loss became NaN/inf (training diverged); nothing was saved. Set train.clipnorm "
              "(e.g. 1.0) or lower train.learning_rate", file=sys.stderr)
        return 1

    # 5. Test metrics, then the saved run
    probabilities = class_probabilities(model, test_ids)
    metrics = classification_metrics(y_test, probabilities, labels.names)
    epochs_run = len(history["loss"])
    metrics.update({
        "params": sum(row["params"] for row in params),
        "recurrent_params": recurrent_parameters(params),
        # without early stopping the saved weights are the last epoch's
        "best_epoch": best_epoch(history, train_cfg.early_stopping.monitor) if train_cfg.early_stopping.enabled else epochs_run,
        "epochs_run": epochs_run,
        "train_seconds": round(train_seconds, 2),
        "seconds_per_epoch": round(train_seconds / epochs_run, 2),
        "tokenize_per_second": round(tokenizing["per_second"]),
        "tokenize_cached": tokenizing["cached"],
        "vocab_size": len(vocab),
        "coverage": coverage,
    })
    print("test set: " + format_metrics(metrics, labels.names))
    run_dir = save_bundle(
        args.models_dir, run_name, model=model, config=config, tokenizer=tokenizer, vocab=vocab, labels=labels,
        metrics=metrics, params=params, history=history,
        plots=[lambda d: report.plot_history(history, d / "learning_curves.png"),
               lambda d: report.plot_confusion_matrix(metrics["confusion_matrix"], labels.names, d / "confusion_matrix.png")],
    )
    print(f"saved {run_dir}")
    print(f"try: python predict.py --model {run_dir} --text \"배우들 연기가 정말 좋았어요\"")
    return 0


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def config_key(config):
    """Names a config's checkpoint folder: the same resolved config, the same key."""
    return hashlib.sha256(json.dumps(config.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


def _log_tokenizing(tokenizer, part):
    run = tokenizer.last_run
    how = "from the cache" if run["cached"] else f"with {tokenizer.backend} on {run['workers']} process(es)"
    print(f"tokenized {run['comments']:,} {part} comments in {run['seconds']:.1f}s "
          f"({run['per_second']:,.0f} comments/s, {how})", flush=True)


if __name__ == "__main__":
    sys.exit(main())
