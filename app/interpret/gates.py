"""Gate traces: what the first recurrent layer's gates do at each token of a comment.

The trace is recomputed in NumPy from the saved layer's own weights by the cell's
registry entry (app.modeling.cells, where the equations are written out).

Only the real tokens are traced: the model masks the front padding, so its state
is still the zero initial state when the first real token arrives. A Bidirectional
layer is traced in its forward direction.
"""

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import keras
import numpy as np
from keras import layers

from app.errors import InputError
from app.modeling.cells import CELLS, cell_of_layer
from app.reporting.plots import plt  # Agg backend, NanumGothic registered for Hangul

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass
class GateTrace:
    """One comment through one recurrent layer: a row per real token, a column per unit."""

    layer: str  # the layer traced, e.g. "lstm_1" or "bidirectional_lstm_1, forward direction"
    gates: dict  # gate name -> (tokens, units) activations in [0, 1]; empty for a SimpleRNN
    hidden: np.ndarray  # (tokens, units) hidden state h_t after each token
    cell: np.ndarray = None  # (tokens, units) LSTM cell state c_t; None for GRU and SimpleRNN

    @property
    def units(self) -> int:
        """How many units the traced layer has."""
        return self.hidden.shape[1]

    def state_norm(self) -> tuple[str, str, np.ndarray]:
        """(label, meaning, values): the LSTM's cell-state norm, else how far each token moved h."""
        if self.cell is not None:
            return "|c|", "cell-state norm", np.linalg.norm(self.cell, axis=1)
        previous = np.vstack([np.zeros((1, self.units)), self.hidden[:-1]])
        return "|Δh|", "hidden-state change |h_t - h_t-1|", np.linalg.norm(self.hidden - previous, axis=1)


def trace_gates(model: keras.Model, ids: np.ndarray | list[int]) -> GateTrace:
    """The GateTrace of one comment (a 1-D row of token ids; padding ids 0 are dropped).
    Raises InputError when no token is left."""
    layer, name = first_recurrent_layer(model)
    ids = np.asarray(ids)
    real = ids[ids != 0]
    if not len(real):
        raise InputError("nothing to trace: the comment has no tokens")
    embeddings = keras.ops.convert_to_numpy(model.get_layer("embedding").embeddings)
    kernel, recurrent_kernel, bias = (w.astype(np.float64) for w in layer.cell.get_weights())
    gates, hidden, cell = cell_of_layer(layer).step(embeddings[real].astype(np.float64), kernel, recurrent_kernel,
                                                    bias, layer.get_config())
    return GateTrace(name, gates, hidden, cell)


def first_recurrent_layer(model: keras.Model) -> tuple[layers.Layer, str]:
    """(layer, name to show): the first recurrent layer; of a Bidirectional one, the forward half.
    Raises InputError when the model has none."""
    for layer in model.layers:
        if isinstance(layer, layers.Bidirectional):
            return layer.forward_layer, f"{layer.name}, forward direction"
        if cell_of_layer(layer) is not None:
            return layer, layer.name
    names = [cell.display_name for cell in CELLS]
    raise InputError(f"model {model.name} has no {', '.join(names[:-1])} or {names[-1]} layer to trace")


def gate_table(trace: GateTrace, tokens: list[str], oov: list[bool] | None = None) -> str:
    """The trace as text: one line per token, each gate averaged over the units; a
    token ``oov`` marks (outside the vocabulary) is followed by [oov]."""
    label, meaning, norms = trace.state_norm()
    averaged = f"gate activations averaged over {trace.units} units; " if trace.gates else ""
    values = np.column_stack([*(gate.mean(axis=1) for gate in trace.gates.values()), norms])
    lines = [f"{trace.layer}: {averaged}{label} = {meaning}",
             "step" + "".join(f"{name:>8}" for name in [*trace.gates, label]) + "  token"]
    for step, (token, row, unknown) in enumerate(zip(tokens, values, oov or [False] * len(tokens)), start=1):
        # the token comes last: Hangul is twice as wide as the padding would assume
        lines.append(f"{step:>4}" + "".join(f"{value:>8.3f}" for value in row) + f"  {token}{' [oov]' if unknown else ''}")
    return "\n".join(lines)


SHOWN_UNITS = 24  # a heatmap row per unit for the units that move most; 128 unsorted rows hide the pattern


def draw_gates(trace: GateTrace, tokens: list[str], title: str, oov: list[bool] | None = None) -> "Figure":
    """A figure: a heatmap per gate over a bar chart of the state norm, with the tokens
    along the shared x axis (those ``oov`` marks, outside the vocabulary, in grey with
    "(oov)"). Each heatmap's top row is the gate's mean over all units at each token;
    below it, the SHOWN_UNITS units whose activation varies most over the comment,
    the most varying first (for a SimpleRNN, the hidden state itself)."""
    panels = [(name, values, "viridis", 0, 1) for name, values in trace.gates.items()]
    if not panels:
        bound = max(np.abs(trace.hidden).max(), 1e-9)
        panels = [("hidden state h", trace.hidden, "RdBu_r", -bound, bound)]
    label, _, norms = trace.state_norm()
    shown = min(SHOWN_UNITS, panels[0][1].shape[1])
    figure, axes = plt.subplots(len(panels) + 1, 1, sharex=True, layout="constrained",
                                figsize=(max(6, 0.45 * len(tokens) + 2), 0.09 * shown * len(panels) + 1.2 * len(panels) + 2.6),
                                height_ratios=[max(3, 0.12 * shown)] * len(panels) + [2])
    for axis, (name, values, colormap, low, high) in zip(axes, panels):
        order = np.argsort(-values.std(axis=0), kind="stable")[:shown]
        rows = np.vstack([values.mean(axis=1), np.full(len(tokens), np.nan), values[:, order].T])  # mean, a gap, units
        image = axis.imshow(rows, aspect="auto", cmap=colormap, vmin=low, vmax=high, interpolation="nearest")
        axis.set_yticks([0, *range(2, shown + 2)], ["mean", *(f"u{unit}" for unit in order)], fontsize=6)
        axis.set_ylabel(f"{name}\n({shown} of {values.shape[1]} units,\nmost varying first)", fontsize=8)
    figure.colorbar(image, ax=axes[:-1], pad=0.01)
    axes[-1].bar(range(len(tokens)), norms, color="slategray")
    axes[-1].set_ylabel(label)
    oov = oov or [False] * len(tokens)
    axes[-1].set_xticks(range(len(tokens)), [f"{token} (oov)" if unknown else token for token, unknown in zip(tokens, oov)],
                        rotation=60, ha="right")
    for tick, unknown in zip(axes[-1].get_xticklabels(), oov):
        if unknown:
            tick.set_color("grey")
            tick.set_fontstyle("italic")
    axes[0].set_title(f"{title}\n{trace.layer}", fontsize=10)
    return figure


def plot_gates(trace: GateTrace, tokens: list[str], path: str | os.PathLike, title: str,
               oov: list[bool] | None = None) -> None:
    """Write draw_gates's figure to ``path`` (PNG)."""
    figure = draw_gates(trace, tokens, title, oov)
    figure.savefig(path, dpi=110)
    plt.close(figure)
