"""The recurrent cells, one registry entry each: what the config accepts, how the
layer is made, where its parameters come from, and how its gates are recomputed.

Each cell has, per gate, an input kernel (i x u), a recurrent kernel (u x u) and a
bias (u). SimpleRNN has one such set, LSTM four (input, forget, candidate, output),
GRU three (update, reset, candidate); Keras's GRU with reset_after=True keeps a
second bias per gate for the recurrent branch.

The gate recomputation (``step``) runs in NumPy from the saved layer's own weights,
step by step as Keras computes it (tests check the states against the layer's own
output); app.interpret.gates shows it. Gates use the layer's recurrent_activation
and states its activation, as configured:

    LSTM       i, f, c̃, o = x·W + h·U + b, split in Keras's kernel order
               c = f*c + i*act(c̃),  h = o*act(c)          shown: forget, input, output, |c|
    GRU        z, r, h̃ from x·W and h·U, split in the order z, r, h
               h = z*h + (1-z)*h̃                           shown: update, reset, |Δh|
    SimpleRNN  h = act(x·W + h·U + b)                      shown: |Δh| = |h_t - h_t-1|

Nothing here imports Keras until a layer class is asked for, so the config schema
can list the cells without loading TensorFlow.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.errors import InputError
from app.registry import Registry

Formula = tuple[str, int, str]  # (symbolic, value, worked out), e.g. ("4u(i+u+1)", 1152, "4·16·(1+16+1)")
Steps = tuple[dict[str, np.ndarray], np.ndarray, "np.ndarray | None"]  # (gates, hidden states, cell states)

ACTIVATIONS = {
    "tanh": np.tanh,
    "sigmoid": lambda x: 0.5 * (np.tanh(x / 2) + 1),  # = 1/(1+e^-x), without overflow
    "hard_sigmoid": lambda x: np.clip(x / 6 + 0.5, 0, 1),  # Keras 3's relu6(x+3)/6
    "relu": lambda x: np.maximum(x, 0),
}


@dataclass(frozen=True)
class Cell:
    """One recurrent cell type."""

    name: str  # the value of model.cell, and the prefix of its layers' names
    display_name: str  # as people write it: SimpleRNN, LSTM, GRU
    layer_class: Callable[[], type]  # the Keras layer class, imported when asked for
    formula: Callable[[Any, int], Formula]  # (layer, input features) -> its parameter count
    note: str  # the parameter-table legend's line for this cell
    step: Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict], Steps]  # the gate recomputation


CELLS: Registry[Cell] = Registry("cell")


def cell_of_layer(layer: Any) -> Cell | None:
    """The registered cell whose Keras class ``layer`` is an instance of exactly, or None."""
    return next((cell for cell in CELLS if type(layer) is cell.layer_class()), None)


def activation(config: dict, key: str) -> Callable[[np.ndarray], np.ndarray]:
    """The NumPy form of a layer's ``activation`` or ``recurrent_activation``."""
    name = config[key]
    if name not in ACTIVATIONS:
        raise InputError(f"{config['name']}: {key} {name!r} cannot be traced (known: {', '.join(ACTIVATIONS)})")
    return ACTIVATIONS[name]


# ----------------------------------------------------------------------------- SimpleRNN

def simple_rnn_formula(layer: Any, i: int) -> Formula:
    """A SimpleRNN layer's parameter count for input width ``i``: (formula, count, worked out)."""
    u = layer.units
    return "u(i+u+1)", u * (i + u + 1), f"{u}·({i}+{u}+1)"


def simple_rnn_steps(x: np.ndarray, kernel: np.ndarray, recurrent_kernel: np.ndarray, bias: np.ndarray, config: dict) -> Steps:
    """Run a SimpleRNN over the embedded tokens ``x``: (no gates, hidden states, no cell state)."""
    act = activation(config, "activation")
    h, hidden = np.zeros(recurrent_kernel.shape[0]), []
    for x_part in x @ kernel + bias:
        h = act(x_part + h @ recurrent_kernel)
        hidden.append(h)
    return {}, np.array(hidden), None


def _keras_layer(name: str) -> Callable[[], type]:
    def layer_class() -> type:
        """The Keras layer class, imported on first use."""
        from keras import layers

        return getattr(layers, name)
    return layer_class


CELLS.register(Cell(
    name="simple_rnn", display_name="SimpleRNN", layer_class=_keras_layer("SimpleRNN"),
    formula=simple_rnn_formula, step=simple_rnn_steps,
    note="u(i+u+1)       input kernel i·u + recurrent kernel u·u + bias u",
))


# ----------------------------------------------------------------------------- LSTM

def lstm_formula(layer: Any, i: int) -> Formula:
    """An LSTM layer's parameter count for input width ``i``: (formula, count, worked out)."""
    u = layer.units
    return "4u(i+u+1)", 4 * u * (i + u + 1), f"4·{u}·({i}+{u}+1)"


def lstm_steps(x: np.ndarray, kernel: np.ndarray, recurrent_kernel: np.ndarray, bias: np.ndarray, config: dict) -> Steps:
    """Run an LSTM over the embedded tokens ``x``: (forget/input/output gates, hidden states, cell states)."""
    act, gate = activation(config, "activation"), activation(config, "recurrent_activation")
    h = c = np.zeros(recurrent_kernel.shape[0])
    steps = []
    for x_part in x @ kernel + bias:  # the input part of every step, computed at once
        i, f, candidate, o = np.split(x_part + h @ recurrent_kernel, 4)  # Keras's order: i, f, c, o
        i, f, o = gate(i), gate(f), gate(o)
        c = f * c + i * act(candidate)
        h = o * act(c)
        steps.append((f, i, o, h, c))
    forget, input_, output, hidden, cell = map(np.array, zip(*steps))
    return {"forget": forget, "input": input_, "output": output}, hidden, cell


CELLS.register(Cell(
    name="lstm", display_name="LSTM", layer_class=_keras_layer("LSTM"),
    formula=lstm_formula, step=lstm_steps,
    note="4u(i+u+1)      the same for each of 4 gates: forget, input, candidate, output",
))


# ----------------------------------------------------------------------------- GRU

def gru_formula(layer: Any, i: int) -> Formula:
    """A GRU layer's parameter count for input width ``i`` (reset_after or not): (formula, count, worked out)."""
    u = layer.units
    if layer.cell.reset_after:
        return "3(u(i+u)+2u)", 3 * (u * (i + u) + 2 * u), f"3·({u}·({i}+{u})+2·{u})"
    return "3u(i+u+1)", 3 * u * (i + u + 1), f"3·{u}·({i}+{u}+1)"


def gru_steps(x: np.ndarray, kernel: np.ndarray, recurrent_kernel: np.ndarray, bias: np.ndarray, config: dict) -> Steps:
    """Run a GRU over the embedded tokens ``x``: (update/reset gates, hidden states, no cell state)."""
    act, gate = activation(config, "activation"), activation(config, "recurrent_activation")
    units = recurrent_kernel.shape[0]
    # reset_after (Keras's default) has a second bias, for the recurrent branch
    input_bias, recurrent_bias = (bias[0], bias[1]) if config["reset_after"] else (bias, np.zeros(3 * units))
    u_z, u_r, u_h = np.split(recurrent_kernel, 3, axis=1)  # Keras's order: z, r, h
    b_z, b_r, b_h = np.split(recurrent_bias, 3)
    h = np.zeros(units)
    steps = []
    for x_part in x @ kernel + input_bias:
        x_z, x_r, x_h = np.split(x_part, 3)
        z = gate(x_z + h @ u_z + b_z)
        r = gate(x_r + h @ u_r + b_r)
        if config["reset_after"]:
            candidate = act(x_h + r * (h @ u_h + b_h))
        else:
            candidate = act(x_h + (r * h) @ u_h)
        h = z * h + (1 - z) * candidate
        steps.append((z, r, h))
    update, reset, hidden = map(np.array, zip(*steps))
    return {"update": update, "reset": reset}, hidden, None


CELLS.register(Cell(
    name="gru", display_name="GRU", layer_class=_keras_layer("GRU"),
    formula=gru_formula, step=gru_steps,
    note="3(u(i+u)+2u)   3 gates (update, reset, candidate); Keras's reset_after keeps two biases per gate",
))
