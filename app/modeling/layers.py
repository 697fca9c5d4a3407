"""Keras layers of our own, registered so that safe_mode can load a saved model using them."""

from typing import Any

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="kosent")
class MaskedGlobalMaxPooling1D(layers.Layer):
    """Max over the real (unmasked) steps; Keras's GlobalMaxPooling1D ignores the mask,
    so padding steps (all zeros) would set a floor of 0 under every feature."""

    def call(self, inputs: Any, mask: Any = None) -> Any:
        """(batch, features): the max over each row's unmasked steps; 0 for a row with none."""
        if mask is None:
            return ops.max(inputs, axis=1)
        mask = ops.expand_dims(ops.cast(mask, inputs.dtype), -1)
        pooled = ops.max(inputs * mask + (mask - 1.0) * 1e9, axis=1)
        return ops.where(ops.any(mask > 0, axis=1), pooled, 0.0)  # an all-padding row -> 0

    def compute_mask(self, inputs: Any, mask: Any = None) -> None:
        """None: the pooled output has no steps left to mask."""
        return None

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        """(batch, features) from (batch, steps, features)."""
        return (input_shape[0], input_shape[2])


@keras.saving.register_keras_serializable(package="kosent")
class MaskedGlobalAveragePooling1D(layers.Layer):
    """Mean over the real (unmasked) steps, like Keras's GlobalAveragePooling1D with a
    mask, except that a row with no real step (every token unknown) gets 0 instead of
    0/0 = NaN, as MaskedGlobalMaxPooling1D does."""

    def call(self, inputs: Any, mask: Any = None) -> Any:
        """(batch, features): the mean over each row's unmasked steps; 0 for a row with none."""
        if mask is None:
            return ops.mean(inputs, axis=1)
        steps = ops.expand_dims(mask, -1)
        total = ops.sum(ops.where(steps, inputs, 0.0), axis=1)
        return total / ops.maximum(ops.sum(ops.cast(steps, inputs.dtype), axis=1), 1.0)

    def compute_mask(self, inputs: Any, mask: Any = None) -> None:
        """None: the pooled output has no steps left to mask."""
        return None

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        """(batch, features) from (batch, steps, features)."""
        return (input_shape[0], input_shape[2])
