"""Recurrent models built from a ModelConfig, and the closed-form parameter counts.

The network is: token ids -> Embedding (id 0 masked) -> [SpatialDropout] -> one or
more SimpleRNN / LSTM / GRU layers (optionally bidirectional) -> the last state or a
pooling over all states -> [hidden Dense] -> Dense output (sigmoid for two classes,
softmax for more).
"""

import keras
import numpy as np
from keras import layers, ops

from app.vocab import padded_spans


@keras.saving.register_keras_serializable(package="kosent")
class MaskedGlobalMaxPooling1D(layers.Layer):
    """Max over the real (unmasked) steps; Keras's GlobalMaxPooling1D ignores the mask,
    so padding steps (all zeros) would set a floor of 0 under every feature."""

    def call(self, inputs, mask=None):
        if mask is None:
            return ops.max(inputs, axis=1)
        mask = ops.expand_dims(ops.cast(mask, inputs.dtype), -1)
        pooled = ops.max(inputs * mask + (mask - 1.0) * 1e9, axis=1)
        return ops.where(ops.any(mask > 0, axis=1), pooled, 0.0)  # an all-padding row -> 0

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])


@keras.saving.register_keras_serializable(package="kosent")
class MaskedGlobalAveragePooling1D(layers.Layer):
    """Mean over the real (unmasked) steps, like Keras's GlobalAveragePooling1D with a
    mask, except that a row with no real step (every token unknown) gets 0 instead of
    0/0 = NaN, as MaskedGlobalMaxPooling1D does."""

    def call(self, inputs, mask=None):
        if mask is None:
            return ops.mean(inputs, axis=1)
        steps = ops.expand_dims(mask, -1)
        total = ops.sum(ops.where(steps, inputs, 0.0), axis=1)
        return total / ops.maximum(ops.sum(ops.cast(steps, inputs.dtype), axis=1), 1.0)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])


CELLS = {"simple_rnn": layers.SimpleRNN, "lstm": layers.LSTM, "gru": layers.GRU}
POOLINGS = {
    "max": lambda x: MaskedGlobalMaxPooling1D(name="max_pool")(x),
    "mean": lambda x: MaskedGlobalAveragePooling1D(name="mean_pool")(x),
    "max_mean": lambda x: layers.Concatenate(name="max_mean_pool")(
        [MaskedGlobalMaxPooling1D(name="max_pool")(x), MaskedGlobalAveragePooling1D(name="mean_pool")(x)]
    ),
}


def build_model(config, vocab_size, num_classes):
    """A keras.Model (compiled later) for ``config`` (a ModelConfig).

    The input takes sequences of any length, so prediction can cut the padding of
    short comments away (see class_probabilities).
    """
    inputs = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    x = layers.Embedding(vocab_size, config.embedding_dim, mask_zero=True, name="embedding")(inputs)
    if config.embedding_dropout:
        x = layers.SpatialDropout1D(config.embedding_dropout, name="embedding_dropout")(x)
    for depth in range(1, config.layers + 1):
        keep_sequence = depth < config.layers or config.pooling != "last"
        rnn = CELLS[config.cell](
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
    if config.pooling != "last":
        x = POOLINGS[config.pooling](x)
    if config.head_units:
        x = layers.Dense(config.head_units, activation="relu", name="head")(x)
    if config.head_dropout:
        x = layers.Dropout(config.head_dropout, name="head_dropout")(x)
    if num_classes == 2:
        outputs = layers.Dense(1, activation="sigmoid", name="output")(x)
    else:
        outputs = layers.Dense(num_classes, activation="softmax", name="output")(x)
    return keras.Model(inputs, outputs, name=f"{config.cell}_classifier")


def output_classes(model):
    """How many classes a model built by build_model predicts."""
    units = model.output_shape[-1]
    return 2 if units == 1 else units


def class_probabilities(model, ids, batch_size=1024):
    """An (n, classes) array of probabilities; a sigmoid output p becomes [1 - p, p].

    Comments are sorted by length and predicted a batch at a time, each batch's front
    padding cut to its longest comment: padding is masked, so the results are the
    same, and most comments are far shorter than max_length. Keras traces its predict
    function with reduce_retracing, so after the first few lengths one trace serves all.
    """
    if len(ids) == 0:  # Keras cannot predict an empty batch
        return np.zeros((0, output_classes(model)), dtype=np.float32)
    width = ids.shape[1]
    spans = np.maximum(padded_spans(ids), 1)  # an all-padding row still needs one step
    if model.input_shape[1] is not None:  # a model built for one fixed length
        spans[:] = width
    order = np.argsort(spans, kind="stable")
    probabilities = np.empty((len(ids), model.output_shape[-1]), dtype=np.float32)
    for start in range(0, len(ids), batch_size):
        rows = order[start:start + batch_size]
        probabilities[rows] = model.predict_on_batch(ids[rows, width - spans[rows].max():])
    if probabilities.shape[-1] == 1:
        probabilities = np.concatenate([1 - probabilities, probabilities], axis=-1)
    return probabilities


# ----------------------------------------------------------------------------- parameters
# Each recurrent cell has, per gate, an input kernel (i x u), a recurrent kernel
# (u x u) and a bias (u). SimpleRNN has one such set, LSTM four (forget, input,
# candidate, output), GRU three (update, reset, candidate); Keras's GRU with
# reset_after=True keeps a second bias per gate for the recurrent branch.

def _simple_rnn(layer, i):
    u = layer.units
    return "u(i+u+1)", u * (i + u + 1), f"{u}·({i}+{u}+1)"


def _lstm(layer, i):
    u = layer.units
    return "4u(i+u+1)", 4 * u * (i + u + 1), f"4·{u}·({i}+{u}+1)"


def _gru(layer, i):
    u = layer.units
    if layer.cell.reset_after:
        return "3(u(i+u)+2u)", 3 * (u * (i + u) + 2 * u), f"3·({u}·({i}+{u})+2·{u})"
    return "3u(i+u+1)", 3 * u * (i + u + 1), f"3·{u}·({i}+{u}+1)"


def _dense(layer, i):
    u = layer.units
    return "i·u+u", i * u + u, f"{i}·{u}+{u}"


def _embedding(layer, i):
    return "vocab·dim", layer.input_dim * layer.output_dim, f"{layer.input_dim}·{layer.output_dim}"


def _bidirectional(layer, i):
    formula, value, worked = PARAMETER_FORMULAS[type(layer.forward_layer)](layer.forward_layer, i)
    return f"2·{formula}", 2 * value, f"2·{worked}"


PARAMETER_FORMULAS = {
    layers.SimpleRNN: _simple_rnn,
    layers.LSTM: _lstm,
    layers.GRU: _gru,
    layers.Dense: _dense,
    layers.Embedding: _embedding,
    layers.Bidirectional: _bidirectional,
}


def parameter_table(model):
    """One row per layer: Keras's own parameter count next to the closed-form formula.

    Layers without weights (pooling, dropout) have an expected count of 0.
    """
    rows = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        input_dim = _input_dim(layer)
        formula, expected, worked = "-", 0, "0"
        if type(layer) in PARAMETER_FORMULAS:
            formula, expected, worked = PARAMETER_FORMULAS[type(layer)](layer, input_dim)
        actual = layer.count_params()
        rows.append({
            "layer": layer.name,
            "type": type(layer).__name__,
            "input_dim": input_dim,
            "output_shape": _shape_text(layer.output.shape),
            "params": actual,
            "formula": formula,
            "worked": worked,
            "expected": expected,
            "agrees": actual == expected,
        })
    return rows


def _input_dim(layer):
    inputs = layer.input if not isinstance(layer.input, list) else layer.input[0]
    return inputs.shape[-1]


def _shape_text(shape):
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def recurrent_parameters(table):
    """Parameters in the recurrent layers only (the part the cell type changes)."""
    recurrent = {"SimpleRNN", "LSTM", "GRU", "Bidirectional"}
    return sum(row["params"] for row in table if row["type"] in recurrent)
