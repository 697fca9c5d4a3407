"""Recurrent models built from a ModelConfig, and their class probabilities.

The network is: token ids -> Embedding (id 0 masked) -> [SpatialDropout] -> one or
more SimpleRNN / LSTM / GRU layers (optionally bidirectional) -> the last state or a
pooling over all states -> [hidden Dense] -> Dense output (sigmoid for two classes,
softmax for more).
"""

from typing import Any

import keras
import numpy as np
from keras import layers

import app.modeling.layers  # noqa: F401 - registers the custom layers safe_mode may load
from app.modeling.batching import probabilities_by_length
from app.modeling.cells import CELLS
from app.modeling.poolings import POOLINGS


def build_model(config: Any, vocab_size: int, num_classes: int) -> keras.Model:
    """A keras.Model (compiled later) for ``config`` (a ModelConfig).

    The input takes sequences of any length, so prediction can cut the padding of
    short comments away (see class_probabilities).
    """
    inputs = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    x = layers.Embedding(vocab_size, config.embedding_dim, mask_zero=True, name="embedding")(inputs)
    if config.embedding_dropout:
        x = layers.SpatialDropout1D(config.embedding_dropout, name="embedding_dropout")(x)
    for depth in range(1, config.layers + 1):
        keep_sequence = depth < config.layers or POOLINGS[config.pooling].build is not None
        rnn = CELLS[config.cell].layer_class()(
            config.units,
            activation=config.activation,
            dropout=config.dropout,
            recurrent_dropout=config.recurrent_dropout,
            return_sequences=keep_sequence,
            name=f"{config.cell}_{depth}",
        )
        if config.bidirectional:
            rnn = layers.Bidirectional(rnn, name=f"bidirectional_{config.cell}_{depth}")
        x = rnn(x)
    if POOLINGS[config.pooling].build is not None:
        x = POOLINGS[config.pooling].build(x)
    if config.head_units:
        x = layers.Dense(config.head_units, activation="relu", name="head")(x)
    if config.head_dropout:
        x = layers.Dropout(config.head_dropout, name="head_dropout")(x)
    if num_classes == 2:
        outputs = layers.Dense(1, activation="sigmoid", name="output")(x)
    else:
        outputs = layers.Dense(num_classes, activation="softmax", name="output")(x)
    return keras.Model(inputs, outputs, name=f"{config.cell}_classifier")


def output_classes(model: keras.Model) -> int:
    """How many classes a model built by build_model predicts."""
    units = model.output_shape[-1]
    return 2 if units == 1 else units


def class_probabilities(model: keras.Model, ids: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """An (n, classes) array of probabilities; a sigmoid output p becomes [1 - p, p].

    Scored by length (app.modeling.batching). Keras traces its predict function with
    reduce_retracing, so after the first few lengths one trace serves all.
    """
    if len(ids) == 0:  # Keras cannot predict an empty batch
        return np.zeros((0, output_classes(model)), dtype=np.float32)
    return probabilities_by_length(model.predict_on_batch, ids, batch_size, model.output_shape[-1],
                                   fixed_length=model.input_shape[1] is not None)
