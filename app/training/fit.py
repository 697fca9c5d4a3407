"""Fitting glue: seeds, the stratified validation split, optimizer, callbacks, the
gradient norm logged each epoch, and the epoch checkpoints that let an interrupted
training resume to the same result."""

import contextlib
import json
import math
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import keras
import numpy as np
import tensorflow as tf

from app.files import AtomicDirectory
from app.modeling.losses import accuracy_metric, loss_function
from app.modeling.optimizers import OPTIMIZERS
from app.text.vocab import padded_spans
from app.training import distributed

if TYPE_CHECKING:
    from app.config.schema import TrainConfig

GRADIENT_SAMPLE = 1024  # training comments (whole batches, at least one) whose gradient norm is logged


def set_seed(seed: int) -> None:
    """Python, NumPy and backend random generators: the same seed gives the same run."""
    keras.utils.set_random_seed(seed)


def make_optimizer(config: "TrainConfig", steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """The configured optimizer, with its clipping and learning-rate schedule.

    ``steps_per_epoch`` (batches per epoch) lets a schedule span all ``config.epochs``.
    """
    clipping = {k: v for k, v in (("clipnorm", config.clipnorm), ("clipvalue", config.clipvalue)) if v is not None}
    return OPTIMIZERS[config.optimizer].make(learning_rate(config, steps_per_epoch), **clipping)


def learning_rate(config: "TrainConfig", steps_per_epoch: int) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """A number for ``constant``; for ``cosine`` a Keras schedule, saved with the model
    (optimizer state), so a resumed run continues where the schedule was."""
    if config.lr_schedule == "constant":
        return config.learning_rate
    total = max(1, config.epochs * steps_per_epoch)
    # at least one step when asked for (a short run must not lose it), and one step left to decay
    warmup = min(total - 1, max(1, round(config.warmup * total))) if config.warmup else 0
    if not warmup:
        return keras.optimizers.schedules.CosineDecay(config.learning_rate, decay_steps=total)
    return keras.optimizers.schedules.CosineDecay(0.0, decay_steps=total - warmup, warmup_target=config.learning_rate,
                                                  warmup_steps=warmup)


@dataclass
class Fitted:
    """A trained model and its history, as fit returns them."""

    model: object  # a new object when training resumed from a checkpoint
    history: dict  # metric name -> one value per epoch, the epochs before a resume included


def fit(model: keras.Model, train: tuple[np.ndarray, np.ndarray], validation: tuple[np.ndarray, np.ndarray],
        config: "TrainConfig", num_classes: int, checkpoint_dir: str | os.PathLike | None = None,
        resume: bool = False, callbacks: Sequence[keras.callbacks.Callback] = (), strategy: object = None) -> Fitted:
    """Compile and train ``model``; early stopping restores the best epoch's weights.

    ``train`` and ``validation`` are (ids, labels) pairs. The training order is shuffled
    once with the seed and kept for every epoch, so a run resumed from a checkpoint
    sees exactly the batches the uninterrupted run would have. With ``checkpoint_dir``
    every completed epoch is saved there (the caller removes it when the run is
    saved); with ``resume`` training continues from it, or, when it holds the last
    epoch, restores the best weights without training. The history also holds ``grad_norm``,
    the raw gradient norm after each epoch (see GradientNormLogger), and
    ``learning_rate``, the rate at each epoch's end. Labels are class indices, or
    probability targets (floats, see probability_targets) for distillation.
    ``callbacks`` are the caller's own Keras callbacks (a tuner's pruning, say); they
    see each epoch's logs, grad_norm included.

    With ``strategy`` (a MultiWorkerMirroredStrategy, app.training.distributed) ``model``
    must have been built in its scope; every worker runs this with the same arguments,
    each takes its share of every batch, and only the chief writes checkpoints.
    """
    soft = np.issubdtype(train[1].dtype, np.floating)
    order = np.random.default_rng(config.seed).permutation(len(train[1]))
    ids, labels = train[0][order], train[1][order]
    if config.bucket_by_length:
        batches = LengthBatches(ids, labels, config.batch_size, seed=config.seed)
        train_data, steps_per_epoch = {"x": batches.dataset()}, len(batches.batches)
        validation = LengthBatches(*validation, config.batch_size).dataset()
    elif strategy is not None:  # datasets, which say how the workers split them
        train_data = {"x": tf.data.Dataset.from_tensor_slices((ids, labels)).batch(config.batch_size)}
        validation = tf.data.Dataset.from_tensor_slices(validation).batch(config.batch_size)
        steps_per_epoch = math.ceil(len(labels) / config.batch_size)
    else:
        train_data = {"x": ids, "y": labels, "batch_size": config.batch_size}
        steps_per_epoch = math.ceil(len(labels) / config.batch_size)
    history, first_epoch, saved_stopping = {}, 0, None
    with distributed.training(strategy):
        if resume:
            model, history, first_epoch, saved_stopping = load_checkpoint(checkpoint_dir)
        else:
            model.compile(optimizer=make_optimizer(config, steps_per_epoch), loss=loss_function(num_classes, soft=soft),
                          metrics=[accuracy_metric(num_classes, soft)])
        if strategy is not None:
            train_data["x"], validation = distributed.sharded(train_data["x"]), distributed.sharded(validation)
            distributed.check_agreement(strategy, {
                "the training comments": len(labels), "the batches per epoch": steps_per_epoch,
                "the completed epochs": first_epoch, "the model's parameters": model.count_params()})
            distributed.prepare_model(model, strategy)
        stopping = None
        if config.early_stopping.enabled:
            stopping = ResumableEarlyStopping(saved_stopping, monitor=config.early_stopping.monitor,
                                              patience=config.early_stopping.patience, restore_best_weights=True,
                                              verbose=1)
        sample = max(1, GRADIENT_SAMPLE // config.batch_size) * config.batch_size  # whole batches
        # first: the gradient norm joins the logs the others record; last: the recorder,
        # which sees early stopping's updated state
        callbacks = [GradientNormLogger(ids[:sample], labels[:sample], config.batch_size,
                                        loss_function(num_classes, reduction=None, soft=soft)),
                     LearningRateLogger(), keras.callbacks.TerminateOnNaN(), *([stopping] if stopping else []),
                     *callbacks, EpochRecorder(history, checkpoint_dir, stopping,
                                               discard=strategy is not None and not strategy.extended.should_checkpoint)]
        if first_epoch < config.epochs and not (saved_stopping and saved_stopping["stopped"]):
            model.fit(
                **train_data,
                validation_data=validation,
                epochs=config.epochs,
                initial_epoch=first_epoch,
                shuffle=False,
                callbacks=callbacks,
                verbose=1 if sys.stdout.isatty() else 2,
            )
        elif saved_stopping and saved_stopping["best_weights"] is not None:
            # interrupted after the last epoch's checkpoint, before training ended: do
            # what early stopping does at the end, bring the best epoch's weights back
            model.set_weights(saved_stopping["best_weights"])
    # the checkpoint stays: the caller removes it once the run is saved, so a kill while
    # saving loses nothing that --resume cannot finish
    return Fitted(model, history)


def remove_checkpoint(directory: str | os.PathLike) -> None:
    """Delete a finished training's checkpoint, and the folder holding it once empty."""
    shutil.rmtree(directory, ignore_errors=True)
    with contextlib.suppress(OSError):
        Path(directory).parent.rmdir()  # only when no other checkpoint is in it


class LengthBatches:
    """Batches of comments of similar length, each cut to the longest comment in it.

    Comments are front-padded to max_length, but most are far shorter (NSMC: 18
    morphemes on average, max_length 60), and a recurrent layer steps through every
    padding position of a batch. Sorting each pool of ``POOL_BATCHES`` batches by
    length and cutting the padding away that no comment in a batch needs makes an
    epoch about twice as fast (docs/experiments.md); padding is masked, so each comment's output is
    unchanged. With ``seed`` the comments are taken in their given (shuffled) order
    and the batches are then shuffled, so a batch's position says nothing about the
    length of its comments; without it (validation) they go shortest first. The
    batches are made once: every epoch sees the same ones in the same order, which
    is what lets a resumed run repeat an uninterrupted one.
    """

    POOL_BATCHES = 16

    def __init__(self, ids, labels, batch_size, seed=None):
        spans = padded_spans(ids)
        if seed is None:
            rows = np.argsort(spans, kind="stable")
        else:
            pool = batch_size * self.POOL_BATCHES
            rows = np.concatenate([start + np.argsort(spans[start:start + pool], kind="stable")
                                   for start in range(0, len(spans), pool)])
        self.batches = []
        for start in range(0, len(rows), batch_size):
            batch = rows[start:start + batch_size]
            width = max(1, int(spans[batch].max()))
            self.batches.append((ids[batch, ids.shape[1] - width:], labels[batch]))
        if seed is not None:
            order = np.random.default_rng(seed).permutation(len(self.batches))
            self.batches = [self.batches[i] for i in order]

    def dataset(self) -> tf.data.Dataset:
        """The batches as a tf.data.Dataset, read anew every epoch. The signature says the
        width varies: inferred from the first batches, it could fix one width for all."""
        ids, labels = self.batches[0]
        signature = (tf.TensorSpec((None, None), tf.as_dtype(ids.dtype)),
                     tf.TensorSpec((None, *labels.shape[1:]), tf.as_dtype(labels.dtype)))
        dataset = tf.data.Dataset.from_generator(lambda: iter(self.batches), output_signature=signature)
        # a known length: Keras's first epoch shows a total and no "ran out of data" warning
        return dataset.apply(tf.data.experimental.assert_cardinality(len(self.batches)))


class GradientNormLogger(keras.callbacks.Callback):
    """Adds ``grad_norm`` to every epoch's logs: how large the raw training gradient is.

    What is measured, with the weights at the end of the epoch: the global L2 norm
    (all trainable weights taken as one vector) of the gradient of a batch's mean
    training loss, averaged over the first batches of the training order: up to 1,024
    comments (at least one batch), the same ones every epoch. Per batch, because a batch's gradient is
    what the optimizer gets and what ``clipnorm`` acts on; the gradient of a larger
    sample would be smaller, its noise averaged away. It is taken here, beside the
    optimizer, so it is the gradient before any clipping. (Keras's ``clipnorm`` clips
    each weight's gradient to that norm on its own, so even a clipped global norm can
    exceed it.)

    Logging it does not change training: the model runs in inference mode
    (``training=False``, no dropout), the optimizer is never touched, and the dropout
    random generators are put back as they were, so later batches draw the masks a run
    without this callback draws. ``loss`` gives one value per comment (``reduction=None``).
    """

    def __init__(self, ids, labels, batch_size, loss):
        super().__init__()
        self.batches = [(ids[i:i + batch_size], labels[i:i + batch_size]) for i in range(0, len(labels), batch_size)]
        self.loss = loss
        self.batch_norm = tf.function(self._batch_norm, reduce_retracing=True)  # traced once, not every epoch

    def _batch_norm(self, ids, labels):
        # under tf.distribute each worker computes it on its own replica, from the same
        # weights and comments: every worker logs the same value, with no communication
        strategy = tf.distribute.get_strategy()
        return strategy.experimental_local_results(strategy.run(self._replica_norm, args=(ids, labels)))[0]

    def _replica_norm(self, ids, labels):
        with tf.GradientTape() as tape:
            # the mean of per-comment losses: a Keras loss that reduces would divide it
            # by the number of replicas, each replica's share of a global batch
            loss = tf.reduce_mean(self.loss(labels, self.model(ids, training=False)))
        return tf.linalg.global_norm(tape.gradient(loss, self.model.trainable_weights))

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """Add ``grad_norm`` to ``logs``, leaving the dropout random generators as they were."""
        with _seed_states_kept(self.model):
            logs["grad_norm"] = float(np.mean([self.batch_norm(ids, labels) for ids, labels in self.batches]))


class LearningRateLogger(keras.callbacks.Callback):
    """Adds ``learning_rate`` to every epoch's logs: the rate at the epoch's end, which
    ``train.lr_schedule: cosine`` lowers step by step (history.csv shows the schedule)."""

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """Add ``learning_rate`` to ``logs``."""
        if logs is not None:
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """Keras's EarlyStopping, able to start from the state a checkpoint saved."""

    def __init__(self, saved=None, **kwargs):
        super().__init__(**kwargs)
        self.saved = saved

    def on_train_begin(self, logs: dict | None = None) -> None:
        """Start as Keras's EarlyStopping does, then take up the saved state, if any."""
        super().on_train_begin(logs)
        if self.saved:
            self.wait, self.best, self.best_epoch = self.saved["wait"], self.saved["best"], self.saved["best_epoch"]
            self.best_weights = self.saved["best_weights"]


class EpochRecorder(keras.callbacks.Callback):
    """Keeps the history across a resume and, with a directory, saves a checkpoint after
    every epoch: the model with its optimizer state, the history, early stopping's state.

    A checkpoint is written beside its final place and swapped in whole, so an
    interruption during the save leaves the previous epoch's checkpoint intact. With
    ``discard`` (a worker other than the chief under tf.distribute) each checkpoint goes
    to a temporary folder that is deleted at once: saving a model under the strategy runs
    collective operations that every worker must join, as TensorFlow's multi-worker
    tutorial says, but only the chief's checkpoint is kept.
    """

    def __init__(self, history, directory, stopping, discard=False):
        super().__init__()
        self.history, self.directory, self.stopping = history, directory and Path(directory), stopping
        self.discard = discard

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """Append ``logs`` to the history and, with a directory, checkpoint the epoch (unless the loss is not finite)."""
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        if self.directory is None or not math.isfinite(float((logs or {}).get("loss", 0.0))):
            return
        if self.discard:
            with tempfile.TemporaryDirectory(prefix="kosent-worker-checkpoint-") as scratch:
                self._write(epoch, Path(scratch))
            return
        with AtomicDirectory(self.directory, mode="replace") as partial:
            self._write(epoch, partial)

    def _write(self, epoch, folder):
        self.model.save(folder / "model.keras")
        state = {"epochs_done": epoch + 1, "history": self.history, "early_stopping": None,
                 "seed_states": [keras.ops.convert_to_numpy(v).tolist() for v in _seed_states(self.model)]}
        if self.stopping is not None:
            best_weights = self.stopping.best_weights
            state["early_stopping"] = {"wait": self.stopping.wait, "best": float(self.stopping.best),
                                       "best_epoch": self.stopping.best_epoch,
                                       "stopped": bool(self.model.stop_training),
                                       "has_best_weights": best_weights is not None}
            if best_weights is not None:
                np.savez(folder / "best_weights.npz", *best_weights)  # plain arrays, loaded without pickle
        (folder / "state.json").write_text(json.dumps(state), encoding="utf-8")


def _seed_states(model):
    """The dropout layers' random-generator states: .keras files do not keep them, and a
    resumed run needs them to draw the same dropout masks."""
    return [v for v in model.variables if v.path.endswith("seed_generator_state")]


@contextlib.contextmanager
def _seed_states_kept(model):
    """Puts the dropout random generators back after the block: Keras's recurrent layers
    draw a dropout mask on every call, even in inference mode where it goes unused."""
    saved = [keras.ops.convert_to_numpy(v) for v in _seed_states(model)]
    yield
    for variable, value in zip(_seed_states(model), saved):
        variable.assign(value)


def load_checkpoint(directory: str | os.PathLike) -> tuple[keras.Model, dict, int, dict | None]:
    """(compiled model, history, epochs done, early stopping state) from a checkpoint."""
    import app.modeling.layers  # noqa: F401 - registers the custom layers the model may use

    directory = Path(directory)
    state = json.loads((directory / "state.json").read_text(encoding="utf-8"))
    model = keras.saving.load_model(directory / "model.keras", safe_mode=True)  # optimizer state included
    for variable, value in zip(_seed_states(model), state["seed_states"]):
        variable.assign(np.asarray(value, dtype=keras.backend.standardize_dtype(variable.dtype)))
    stopping = state["early_stopping"]
    if stopping is not None:
        stopping["best_weights"] = None
        if stopping.pop("has_best_weights"):
            with np.load(directory / "best_weights.npz", allow_pickle=False) as arrays:
                stopping["best_weights"] = [arrays[f"arr_{i}"] for i in range(len(arrays.files))]
    return model, state["history"], state["epochs_done"], stopping


def best_epoch(history: dict, monitor: str) -> int:
    """1-based epoch whose weights early stopping kept."""
    values = history[monitor]
    pick = np.nanargmax if monitor.endswith("accuracy") else np.nanargmin
    return int(pick(values)) + 1
