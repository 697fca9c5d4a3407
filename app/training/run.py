"""Training a config, as ``train(config)`` does it, in three steps that train.py and
--compare share:

    prepared = prepare_data(config)            # read, split and tokenize, once
    trained  = train_model(config, prepared)   # vocabulary, model, fit, test metrics
    run      = save_run(models_dir, name, config, prepared, trained)

A comparison prepares the data once and trains every config (and seed) on the same
tokens, splits and test set.
"""

import dataclasses
import hashlib
import json
import logging
import os
import resource
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.artifacts.run import SavedRun, check_run_name
from app.config.loader import check_data_files
from app.config.schema import Config
from app.data.readers import LabelSet, load_labeled
from app.data.splits import stratified_split
from app.errors import BundleError, DataError, TrainingDiverged, TrainingFailed
from app.text.tokenizer import Tokenizer
from app.training import distributed

log = logging.getLogger(__name__)

DIVERGED = ("the loss became NaN/inf (training diverged); nothing was saved. Set train.clipnorm (e.g. 1.0) "
            "or lower train.learning_rate")
DIVERGED_EXIT = 3  # a training process's exit code when its loss diverged


@dataclass
class Prepared:
    """Tokenized training and test comments with their class indices."""

    labels: LabelSet
    texts: list  # the training comments (validation is split off later)
    tokens: list  # their token lists
    y: np.ndarray
    test_texts: list
    test_tokens: list
    y_test: np.ndarray
    tokenizer: Tokenizer
    tokenizing: dict  # the training part's throughput (Tokenizer.last_run)
    word_vectors: object = None  # app.pretrain.WordVectors when the config pretrains


@dataclass
class Trained:
    """A fitted model and everything save_bundle writes next to it."""

    model: object
    history: dict
    vocab: object
    params: list
    metrics: dict
    test_probabilities: np.ndarray | None  # None when train_model did not score the test set


def train(config: Config, *, models_dir: str | os.PathLike = "models", name: str | None = None,
          resume: bool = False, cluster: distributed.Cluster | None = None) -> SavedRun | None:
    """Train ``config`` and save the run as ``models_dir/name``; returns the saved run
    (its ``path`` and test ``metrics`` among the rest).

    With ``cluster`` (app.training.distributed; every worker calls this with the same
    arguments) training runs across its workers; the chief saves the run and returns it,
    the other workers write nothing and return None.

    ``name`` defaults to ``<config name or cell>-<date>-<time>``. Every epoch is
    checkpointed under ``models_dir/.checkpoints``; ``resume=True`` continues an
    interrupted training of the same config from there.

    Raises ConfigError, DataError or BundleError for input that cannot be used,
    TrainingDiverged when the loss becomes NaN/inf, and KeyboardInterrupt (Ctrl-C,
    or SIGTERM where the caller maps it so) with the checkpoint kept for ``resume``.
    """
    run_name = check_run_name(name or f"{config.name or config.model.cell}-{time.strftime('%Y%m%d-%H%M%S')}")
    checkpoint = checkpoint_dir(models_dir, config)
    resuming = resume and checkpoint.is_dir()  # an epoch's checkpoint, or a distilling teacher's labels
    check_data_files(config)
    strategy, chief = None, cluster is None or cluster.chief
    if cluster is not None:
        distributed.check_distributable(config, cluster)
        strategy = distributed.start(cluster)  # before TensorFlow runs anything, as the strategy must be
        distributed.check_agreement(strategy, {"finding a checkpoint to resume (1: found)": int(resuming)})
    if resume and not resuming:
        raise BundleError(f"{checkpoint}: no interrupted training of this config to resume")
    prepared = prepare_data(config, test=chief)
    if resuming:
        log.info(f"resuming from the checkpoint in {checkpoint}")
    elif checkpoint.exists():
        log.info("note: an interrupted training of this config was found; starting over (resume continues it)")
    trained = train_model(config, prepared, checkpoint_dir=checkpoint, resume=resuming, score_test=chief,
                          strategy=strategy)
    if not chief:
        return None
    run = save_run(models_dir, run_name, config, prepared, trained)
    from app.training.fit import remove_checkpoint

    remove_checkpoint(checkpoint)  # only now: until the run is in place, --resume finishes it from here
    return run


def checkpoint_dir(models_dir: str | os.PathLike, config: Config) -> Path:
    """Where a config's epochs are checkpointed: the same resolved config, the same folder."""
    key = hashlib.sha256(json.dumps(config.to_dict(), sort_keys=True).encode()).hexdigest()[:16]
    return Path(models_dir) / ".checkpoints" / key


def prepare_data(config: Config, test: bool = True) -> Prepared:
    """Read the labeled comments, hold out the test set, tokenize both parts (the test
    part only with ``test``: a worker that does not score it leaves its tokens empty)."""
    data, seed = config.data, config.train.seed
    frame, dropped, source = load_labeled(data.train, data)
    unreadable = f", {dropped['unreadable']:,} unreadable" if dropped.get("unreadable") else ""
    log.info(f"read {len(frame):,} comments from {source} (dropped {dropped['empty_text']:,} with empty text, "
          f"{dropped['missing_label']:,} without a label{unreadable})")
    if data.max_rows and len(frame) > data.max_rows:
        frame = frame.sample(n=data.max_rows, random_state=seed).reset_index(drop=True)
        log.info(f"using a random {data.max_rows:,} of them (data.max_rows)")
    labels = LabelSet.fit(frame[data.label_column], data.label_names, source)
    y = labels.encode(frame[data.label_column])
    texts = frame[data.text_column].tolist()
    if data.test:
        test_texts, y_test = _read_test_set(data, labels)
    else:
        keep, held_out = stratified_split(y, data.test_split, seed)
        test_texts, y_test = [texts[i] for i in held_out], y[held_out]
        texts, y = [texts[i] for i in keep], y[keep]
        log.info(f"no test file: holding out {len(test_texts):,} comments ({data.test_split:.0%}) as the test set")
    counts = np.bincount(y, minlength=len(labels.names))
    log.info(f"classes: {', '.join(f'{n} ({c:,})' for n, c in zip(labels.names, counts))}")

    tokenizer = Tokenizer.from_config(config.tokenizer)
    tokens = tokenizer.tokenize(texts, progress=True)
    tokenizer.log_last_run("train")
    tokenizing = dict(tokenizer.last_run)
    test_tokens = [[] for _ in test_texts]
    if test:
        test_tokens = tokenizer.tokenize(test_texts, progress=True)
        tokenizer.log_last_run("test")
    word_vectors = _pretrain(config, tokenizer, tokens) if config.pretrain.unlabeled else None
    tokenizer.close()
    return Prepared(labels, texts, tokens, y, test_texts, test_tokens, y_test, tokenizer, tokenizing, word_vectors)


def _pretrain(config, tokenizer, train_tokens):
    """word2vec on the unlabeled comments and the training comments' text (not the test's)."""
    from app.training import pretrain

    # a small run stays small: data.max_rows caps the unlabeled comments too, unless
    # pretrain.max_rows says otherwise
    section = dataclasses.replace(config.pretrain, max_rows=config.pretrain.max_rows or config.data.max_rows)
    texts, source = pretrain.read_unlabeled_if_there(section, config.data, "pretrain",
                                                     without="the embedding starts from random values")
    if texts is None:
        return None
    cap_key = "pretrain.max_rows" if config.pretrain.max_rows else "data.max_rows"
    capped = f", the first {section.max_rows:,} ({cap_key})" if section.max_rows else ""
    log.info(f"pretraining: {len(texts):,} unlabeled comments from {source}{capped}; "
             f"--set pretrain.unlabeled=none switches pretraining off")
    unlabeled_tokens = tokenizer.tokenize(texts, progress=True)
    tokenizer.log_last_run("unlabeled")
    cache_dir = tokenizer.cache_dir if tokenizer.cache else None
    return pretrain.word_vectors(unlabeled_tokens + train_tokens, config.model.embedding_dim, config.pretrain,
                                 config.train.seed, tokenizer.workers, cache_dir)


def _read_test_set(data, labels):
    test_frame, test_dropped, test_source = load_labeled(data.test, data)
    y_test = labels.encode(test_frame[data.label_column])
    unknown = int((y_test < 0).sum())
    if unknown == len(y_test):
        raise DataError(f"{test_source}: none of its labels are in the training data ({', '.join(labels.values)})")
    if unknown:
        log.warning(f"{unknown:,} test rows have labels the training data lacks; they are left out")
    test_texts = [t for t, keep in zip(test_frame[data.text_column], y_test >= 0) if keep]
    log.info(f"read {len(test_texts):,} test comments from {test_source} (dropped {sum(test_dropped.values()):,})")
    return test_texts, y_test[y_test >= 0]


def train_model(config: Config, prepared: Prepared, checkpoint_dir: Path | None = None,
                resume: bool = False, callbacks: Sequence = (), score_test: bool = True,
                strategy: object = None, rows: tuple[np.ndarray, np.ndarray] | None = None) -> Trained:
    """Fit the vocabulary and the model of ``config`` on ``prepared``, then score the test set
    (unless not ``score_test``: a tuning trial's choices never see it; metrics then hold no scores).

    With ``config.distill`` a teacher is trained first (app.training.distill) and the
    model learns from its probabilities for unlabeled comments too, starting from the
    teacher's weights with ``distill.warm_start``. Raises TrainingDiverged when the
    loss becomes NaN/inf. ``callbacks`` (Keras callbacks) watch the final model's epochs.
    With ``strategy`` (app.training.distributed.start) the model trains across the
    workers, and the model returned is an ordinary one with the trained weights.
    ``rows`` (training, validation) replaces the stratified split of ``train.seed``: a
    teacher's models of other seeds fit the same rows (distill.teacher_seeds).
    """
    from app.evaluation.metrics import classification_metrics, format_metrics
    from app.modeling.losses import probability_targets
    from app.modeling.network import build_model, class_probabilities
    from app.modeling.parameters import parameter_table, recurrent_parameters
    from app.reporting.tables import format_parameter_table
    from app.text.vocab import Vocabulary
    from app.training import distill
    from app.training.fit import best_epoch, fit, set_seed

    train_cfg, tokens, y = config.train, prepared.tokens, prepared.y
    set_seed(train_cfg.seed)

    # The vocabulary counts the training part only, never the validation or test part
    fit_rows, val_rows = rows if rows is not None else stratified_split(y, train_cfg.validation_split, train_cfg.seed)
    teaching = None
    if config.distill.unlabeled:
        teaching = distill.teach(config, prepared, (fit_rows, val_rows), train_model, checkpoint_dir, resume)
    if teaching:
        log.info(f"\n=== student: {config.name or config.model.cell}, on the labeled comments and the teacher's "
              f"probabilities for {len(teaching.tokens):,} unlabeled ones")
        checkpoint_dir = distill.student_checkpoint(checkpoint_dir)
        train_cfg = dataclasses.replace(train_cfg, epochs=config.distill.epochs)
        set_seed(train_cfg.seed)  # the student starts alike whether the teacher trained now or was read back
    # Pretrained tokens may join: their vectors carry meaning even where no labeled comment does
    pretrained = prepared.word_vectors.tokens if prepared.word_vectors and config.vocab.add_pretrained else ()
    counted = [tokens[i] for i in fit_rows]
    if teaching and config.distill.unlabeled_vocabulary:  # the student learns their words from the teacher's labels
        counted += teaching.tokens
    vocab = Vocabulary.fit(counted, config.vocab.max_size, config.vocab.min_count, pretrained)
    length, truncate = config.vocab.max_length, config.vocab.truncate
    ids = vocab.encode(tokens, length, truncate)
    log.info(f"vocabulary: {len(vocab):,} tokens (max_size {config.vocab.max_size:,}, min_count {config.vocab.min_count})")
    coverage = {}
    parts = {"train": tokens, "test": prepared.test_tokens} if score_test else {"train": tokens}
    for part, part_tokens in parts.items():
        coverage[part] = s = vocab.stats(part_tokens, length)
        log.info(f"  {part}: {s['covered_whole']:.1%} of comments fit whole in max_length {length} "
              f"(mean {s['mean_tokens']:.1f} tokens, 95th percentile {s['p95_tokens']:.0f}); OOV rate {s['oov_rate']:.2%}")

    # The model, and where each layer's parameters come from
    names = prepared.labels.names
    with distributed.scope(strategy):
        model = build_model(config.model, len(vocab), len(names))
    if teaching and config.distill.warm_start:
        started = distill.warm_start(model, teaching, vocab)
        afresh = [layer.name for layer in model.layers if layer.weights and layer.name not in started]
        afresh_note = f"; afresh: {', '.join(afresh)}" if afresh else ""
        log.info(f"the student starts from the teacher's weights (distill.warm_start): {', '.join(started)}{afresh_note}")
    elif prepared.word_vectors is not None:
        from app.training.pretrain import embedding_matrix

        weights, found = embedding_matrix(prepared.word_vectors, vocab, train_cfg.seed)
        model.get_layer("embedding").set_weights([weights])
        log.info(f"embedding: {found:,} of {len(vocab):,} tokens start from their pretrained vector")
    params = parameter_table(model)
    log.info(format_parameter_table(params))

    started = time.perf_counter()
    fit_ids, fit_y, val_y = ids[fit_rows], y[fit_rows], y[val_rows]
    if teaching:  # the labeled rows as probabilities too: one kind of target for the loss
        fit_ids = np.concatenate([fit_ids, vocab.encode(teaching.tokens, length, truncate)])
        fit_y = np.concatenate([probability_targets(fit_y, len(names)), teaching.targets])
        val_y = probability_targets(val_y, len(names))
    # a distilling run resumed may have no epoch of this model saved yet
    resume = resume and checkpoint_dir is not None and (Path(checkpoint_dir) / "state.json").exists()
    fitted = fit(model, (fit_ids, fit_y), (ids[val_rows], val_y), train_cfg, len(names),
                 checkpoint_dir=checkpoint_dir, resume=resume, callbacks=callbacks, strategy=strategy)
    model, history = fitted.model, fitted.history
    if strategy is not None:  # scored and saved outside the strategy, whose predict gathers every worker's rows
        trained_weights, model = model.get_weights(), build_model(config.model, len(vocab), len(names))
        model.set_weights(trained_weights)
    train_seconds = time.perf_counter() - started
    if not all(np.isfinite(history["loss"])):
        raise TrainingDiverged(DIVERGED)

    probabilities, metrics = None, {}
    if score_test:
        probabilities = class_probabilities(model, vocab.encode(prepared.test_tokens, length, truncate))
        metrics = classification_metrics(prepared.y_test, probabilities, names)
    epochs_run = len(history["loss"])
    metrics.update({
        "params": sum(row["params"] for row in params),
        "recurrent_params": recurrent_parameters(params),
        # without early stopping the saved weights are the last epoch's
        "best_epoch": best_epoch(history, train_cfg.early_stopping.monitor) if train_cfg.early_stopping.enabled else epochs_run,
        "epochs_run": epochs_run,
        "train_seconds": round(train_seconds, 2),
        "seconds_per_epoch": round(train_seconds / epochs_run, 2),
        "peak_memory_mib": round(peak_memory_mib()),
        "tokenize_per_second": round(prepared.tokenizing["per_second"]),
        "tokenize_cached": prepared.tokenizing["cached"],
        "vocab_size": len(vocab),
        "coverage": coverage,
        "pretrain_seconds": round(prepared.word_vectors.seconds, 2) if prepared.word_vectors else None,
        "distill": teaching.report if teaching else None,
    })
    if score_test:
        log.info("test set: " + format_metrics(metrics, names))
    return Trained(model, history, vocab, params, metrics, probabilities)


def peak_memory_mib() -> float:
    """The largest resident memory this process has used so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def save_run(models_dir: str | os.PathLike, name: str, config: Config, prepared: Prepared,
             trained: Trained) -> SavedRun:
    """Save ``trained`` as a run directory (with its learning curves and confusion matrix)."""
    from app.reporting import plots

    history, metrics, names = trained.history, trained.metrics, prepared.labels.names
    run = SavedRun(trained.model, config, prepared.tokenizer, trained.vocab, prepared.labels, metrics,
                   trained.params, history)
    saved = run.save(models_dir, name, plots=(
        lambda d: plots.plot_history(history, d / "learning_curves.png"),
        lambda d: plots.plot_confusion_matrix(metrics["confusion_matrix"], names, d / "confusion_matrix.png")))
    log.info(f"saved {saved.path}")
    return saved


def train_in_subprocess(config: Config, prepared: Prepared, models_dir: Path, name: str,
                        setup: Callable[[], None] | None = None) -> Path:
    """Train and save one model in a fresh process; return its run directory.

    A process of its own per model makes each one's peak memory its own (not the
    largest of all before it) and starts every model from the same clean Keras
    state. The tokens are handed over, not recomputed. ``setup`` runs first in the
    new process (a command-line tool's logging set-up, say).
    """
    import multiprocessing

    process = multiprocessing.get_context("forkserver").Process(
        target=_train_and_save, args=(config, prepared, str(models_dir), name, setup), name=f"train {name}")
    process.start()
    try:
        process.join()
    except BaseException:  # Ctrl-C or kill: stop the child too, nothing is kept
        process.terminate()
        process.join()
        raise
    run_dir = Path(models_dir) / name
    if process.exitcode == DIVERGED_EXIT:
        raise TrainingDiverged(f"training {name}: {DIVERGED}")
    if process.exitcode != 0 or not run_dir.is_dir():
        raise TrainingFailed(f"training {name} failed (exit code {process.exitcode}); see the messages above")
    return run_dir


def _train_and_save(config, prepared, models_dir, name, setup):
    if setup is not None:
        setup()
    try:
        trained = train_model(config, prepared)
    except TrainingDiverged:
        sys.exit(DIVERGED_EXIT)
    save_run(models_dir, name, config, prepared, trained)
