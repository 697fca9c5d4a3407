"""Where every layer's parameters come from: Keras's count next to the closed-form
formula, worked out with the layer's own sizes. A recurrent layer's formula is its
cell's registry entry (app.modeling.cells); the others are here."""

import keras
from keras import layers

from app.modeling.cells import CELLS, Formula, cell_of_layer


def _dense(layer, i):
    u = layer.units
    return "i·u+u", i * u + u, f"{i}·{u}+{u}"


def _embedding(layer, i):
    return "vocab·dim", layer.input_dim * layer.output_dim, f"{layer.input_dim}·{layer.output_dim}"


def _bidirectional(layer, i):
    formula, value, worked = layer_formula(layer.forward_layer, i)
    return f"2·{formula}", 2 * value, f"2·{worked}"


OTHER_FORMULAS = {layers.Dense: _dense, layers.Embedding: _embedding, layers.Bidirectional: _bidirectional}
OTHER_NOTES = "Dense      i·u+u          kernel + bias;   Embedding  vocab·dim;   Bidirectional  2 × the wrapped layer"


def layer_formula(layer: keras.layers.Layer, i: int) -> Formula | None:
    """(formula, expected count, worked out) for a layer with weights we know, else None."""
    cell = cell_of_layer(layer)
    if cell is not None:
        return cell.formula(layer, i)
    if type(layer) in OTHER_FORMULAS:
        return OTHER_FORMULAS[type(layer)](layer, i)
    return None


def formula_notes() -> str:
    """The legend under a parameter table: one line per registered cell, then the rest."""
    lines = [f"    {cell.display_name:<10} {cell.note}" for cell in CELLS]
    return "\n".join(["  Where the numbers come from (i = input features, u = units):", *lines, f"    {OTHER_NOTES}"])


def is_recurrent(layer: keras.layers.Layer) -> bool:
    """A layer of a registered cell, or a Bidirectional wrapper of one."""
    return cell_of_layer(layer.forward_layer if isinstance(layer, layers.Bidirectional) else layer) is not None


def parameter_table(model: keras.Model) -> list[dict]:
    """One row per layer: Keras's own parameter count next to the closed-form formula.

    Layers without weights (pooling, dropout) have an expected count of 0.
    """
    rows = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        input_dim = _input_dim(layer)
        formula, expected, worked = layer_formula(layer, input_dim) or ("-", 0, "0")
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
            "recurrent": is_recurrent(layer),
        })
    return rows


def _input_dim(layer):
    inputs = layer.input if not isinstance(layer.input, list) else layer.input[0]
    return inputs.shape[-1]


def _shape_text(shape):
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def recurrent_parameters(table: list[dict]) -> int:
    """Parameters in the recurrent layers only (the part the cell type changes)."""
    return sum(row["params"] for row in table if row["recurrent"])
