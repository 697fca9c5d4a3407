"""The loss and accuracy a model trains with: two classes or more, class indices or
probability targets (distillation)."""

from typing import Any

import keras
import numpy as np


def loss_function(num_classes: int, reduction: str | None = "sum_over_batch_size", soft: bool = False) -> keras.losses.Loss:
    """Binary cross-entropy on a two-class model's one sigmoid output, sparse categorical
    cross-entropy on the softmax of more classes; a batch's mean unless ``reduction``.
    ``soft``: the targets are probabilities (see probability_targets), not class indices."""
    if num_classes == 2:
        return keras.losses.BinaryCrossentropy(reduction=reduction)  # takes a probability as it is
    if soft:
        return keras.losses.CategoricalCrossentropy(reduction=reduction)
    return keras.losses.SparseCategoricalCrossentropy(reduction=reduction)


def probability_targets(y: np.ndarray, num_classes: int) -> np.ndarray:
    """Class indices as the probability targets a distilled model trains on, in the form
    of its output: P(class 1) for two classes, one row of class probabilities for more."""
    if num_classes == 2:
        return np.asarray(y, dtype="float32")
    return np.eye(num_classes, dtype="float32")[y]


@keras.saving.register_keras_serializable(package="kosent")
def rounded_binary_accuracy(y_true: Any, y_pred: Any) -> Any:
    """Binary accuracy against the likelier class of a probability target: Keras's
    compares the target itself, so a teacher's 0.93 would never count as right."""
    return keras.metrics.binary_accuracy(keras.ops.round(y_true), y_pred)


def accuracy_metric(num_classes: int, soft: bool) -> keras.metrics.Metric | str:
    """The accuracy metric to compile with: the rounded binary one for two-class probability
    targets, else "accuracy" (Keras picks the sparse or categorical form)."""
    if soft and num_classes == 2:
        return keras.metrics.MeanMetricWrapper(rounded_binary_accuracy, name="accuracy")
    return "accuracy"  # Keras picks the sparse or the categorical form from the targets
