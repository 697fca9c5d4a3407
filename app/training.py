"""Fitting glue: seeds, the stratified validation split, optimizer, callbacks."""

import math
import sys

import keras
import numpy as np
from sklearn.model_selection import train_test_split

OPTIMIZERS = {
    "adam": keras.optimizers.Adam,
    "adamw": keras.optimizers.AdamW,
    "rmsprop": keras.optimizers.RMSprop,
    "sgd": keras.optimizers.SGD,
}


def set_seed(seed):
    """Python, NumPy and backend random generators: the same seed gives the same run."""
    keras.utils.set_random_seed(seed)


def stratified_split(labels, fraction, seed):
    """Indices (kept, held_out) with each class in the same proportion in both."""
    indices = np.arange(len(labels))
    counts = np.bincount(labels)
    held_out_size = math.ceil(len(labels) * fraction)
    stratify = labels if counts[counts > 0].min() >= 2 and held_out_size >= len(counts) else None
    return train_test_split(indices, test_size=fraction, random_state=seed, stratify=stratify)


def make_optimizer(config):
    clipping = {k: v for k, v in (("clipnorm", config.clipnorm), ("clipvalue", config.clipvalue)) if v is not None}
    return OPTIMIZERS[config.optimizer](learning_rate=config.learning_rate, **clipping)


def fit(model, train, validation, config, num_classes):
    """Compile and train ``model``; returns the Keras History.

    ``train`` and ``validation`` are (ids, labels) pairs. Early stopping restores
    the weights of the best epoch by ``config.early_stopping.monitor``.
    """
    loss = "binary_crossentropy" if num_classes == 2 else "sparse_categorical_crossentropy"
    model.compile(optimizer=make_optimizer(config), loss=loss, metrics=["accuracy"])
    callbacks = [keras.callbacks.TerminateOnNaN()]
    stopping = config.early_stopping
    if stopping.enabled:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor=stopping.monitor, patience=stopping.patience, restore_best_weights=True, verbose=1,
        ))
    return model.fit(
        train[0], train[1],
        validation_data=validation,
        batch_size=config.batch_size,
        epochs=config.epochs,
        callbacks=callbacks,
        verbose=1 if sys.stdout.isatty() else 2,
    )


def best_epoch(history, monitor):
    """1-based epoch whose weights early stopping kept."""
    values = history[monitor]
    pick = np.nanargmax if monitor.endswith("accuracy") else np.nanargmin
    return int(pick(values)) + 1
