"""A saved run's Keras model as an ONNX graph, built from its weights.

    token_ids (batch, steps) int32, front-padded as Vocabulary.encode pads
        -> probabilities (batch, classes) float32, as class_probabilities returns them

Why not tf2onnx: it turns a masked recurrent layer into an ONNX Loop, one slow step
at a time (onnx/tensorflow-onnx#1871), and ONNX's fused LSTM/GRU/RNN ops skip padding
only at the end of a row (their ``sequence_lens``), while our rows are padded at the
front. So the graph first moves each row's padding from the front to the end (a
Gather over the ids), then runs the fused ops with ``sequence_lens`` = the comment's
length: every step Keras masks is a step ONNX never runs, and pooling masks the same
steps. The numbers are the Keras model's own weights, in ONNX's gate order.

A model this module does not know (a cell registered outside app/modeling/cells.py,
an activation ONNX's recurrent ops lack) is refused with one line saying why.
"""

from typing import Any

import numpy as np

from app.errors import BundleError

OPSET = 18
INPUT, OUTPUT = "token_ids", "probabilities"
WEIGHTS = "weights"  # the metadata entry naming the weights: float32 here, int8 from app.export.onnx_quantize
# Keras activation name -> the name ONNX's recurrent ops take
ACTIVATIONS = {"tanh": "Tanh", "sigmoid": "Sigmoid", "relu": "Relu"}
# Keras's LSTM kernel holds the gates as i, f, c, o; ONNX's as i, o, f, c
LSTM_GATE_ORDER = (0, 3, 1, 2)


class _Graph:
    """Nodes and weights added in order; ``name = graph.add(op, inputs, **attributes)``."""

    def __init__(self) -> None:
        self.nodes, self.weights, self._count, self._constants = [], [], 0, {}

    def add(self, op: str, inputs: list[str], outputs: int = 1, **attributes: Any) -> Any:
        from onnx import helper

        self._count += 1
        names = [f"{op.lower()}_{self._count}_{i}" for i in range(outputs)]
        self.nodes.append(helper.make_node(op, inputs, names, **attributes))
        return names[0] if outputs == 1 else names

    def weight(self, name: str, value: np.ndarray) -> str:
        from onnx import numpy_helper

        self.weights.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def constant(self, value: Any, dtype: Any) -> str:
        """A small constant (an axis, 0, 1), added once however often it is used."""
        array = np.asarray(value, dtype)
        key = (array.dtype.str, array.shape, array.tobytes())
        if key not in self._constants:
            self._constants[key] = self.weight(f"constant_{len(self._constants)}", array)
        return self._constants[key]


def onnx_model(model: Any, config: Any) -> Any:
    """The onnx.ModelProto of ``model`` (a keras.Model built by build_model from
    ``config``, a ModelConfig). Raises BundleError when a part has no ONNX form here."""
    from onnx import TensorProto, checker, helper

    graph = _Graph()
    embedding = model.get_layer("embedding")
    if not embedding.mask_zero:
        raise BundleError("onnx: the embedding does not mask id 0; only models built by build_model are exported")
    moved, lengths, positions = _padding_to_the_end(graph, INPUT)
    vectors = graph.add("Gather", [graph.weight("embedding", _array(embedding.embeddings)), moved])  # (batch, steps, dim)
    x = graph.add("Transpose", [vectors], perm=[1, 0, 2])  # ONNX's recurrent ops read (steps, batch, features)
    last_state = None
    for depth in range(1, config.layers + 1):
        name = f"bidirectional_{config.cell}_{depth}" if config.bidirectional else f"{config.cell}_{depth}"
        x, last_state = _recurrent(graph, model.get_layer(name), x, lengths)
    if config.pooling == "last":
        features = last_state
    else:
        real = graph.add("Less", [graph.add("Unsqueeze", [positions, _axes(graph, 0)]),
                                  graph.add("Unsqueeze", [graph.add("Cast", [lengths], to=TensorProto.INT64), _axes(graph, 1)])])
        mask = graph.add("Unsqueeze", [graph.add("Cast", [real], to=TensorProto.FLOAT), _axes(graph, 2)])  # (batch, steps, 1)
        states = graph.add("Transpose", [x], perm=[1, 0, 2])  # (batch, steps, features)
        pooled = {"max": lambda: _masked_max(graph, states, mask), "mean": lambda: _masked_mean(graph, states, mask)}
        if config.pooling == "max_mean":
            features = graph.add("Concat", [pooled["max"](), pooled["mean"]()], axis=1)
        elif config.pooling in pooled:
            features = pooled[config.pooling]()
        else:
            raise BundleError(f"onnx: pooling {config.pooling!r} has no ONNX form here (known: last, max, mean, max_mean)")
    if config.head_units:
        features = graph.add("Relu", [_dense(graph, model.get_layer("head"), features)])
    output = model.get_layer("output")
    scores = _dense(graph, output, features)
    if output.units == 1:  # sigmoid p -> [1 - p, p], as class_probabilities gives it
        positive = graph.add("Sigmoid", [scores])
        probabilities = graph.add("Concat", [graph.add("Sub", [graph.constant(1, np.float32), positive]), positive], axis=1)
    else:
        probabilities = graph.add("Softmax", [scores], axis=-1)
    graph.nodes.append(helper.make_node("Identity", [probabilities], [OUTPUT]))
    proto = helper.make_model(
        helper.make_graph(graph.nodes, model.name,
                          [helper.make_tensor_value_info(INPUT, TensorProto.INT32, ["batch", "steps"])],
                          [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["batch", max(output.units, 2)])],
                          graph.weights),
        opset_imports=[helper.make_opsetid("", OPSET)], producer_name="kosent")
    # read back by app.export.onnx_runtime to check the run's vocab.txt and labels.json against the graph
    helper.set_model_props(proto, {"vocab_size": str(embedding.input_dim), "classes": str(max(output.units, 2)),
                                   WEIGHTS: "float32"})
    proto.ir_version = 8  # the IR version of opset 18 (ONNX 1.13), which every onnxruntime since 1.14 reads
    checker.check_model(proto)
    return proto


def _padding_to_the_end(graph: _Graph, ids: str) -> tuple[str, str, str]:
    """(ids with each row's padding moved from the front to the end, the rows' lengths,
    the step numbers 0..steps-1): row r's token at step t moves to step t - padding[r]."""
    from onnx import TensorProto

    present = graph.add("Cast", [graph.add("Greater", [ids, graph.constant(0, np.int32)])], to=TensorProto.INT32)
    lengths = graph.add("ReduceSum", [present, _axes(graph, 1)], keepdims=0)  # (batch,) int32, as sequence_lens takes it
    steps = graph.add("Gather", [graph.add("Shape", [ids]), graph.constant(1, np.int64)])
    padding = graph.add("Cast", [graph.add("Sub", [graph.add("Cast", [steps], to=TensorProto.INT32), lengths])],
                        to=TensorProto.INT64)
    positions = graph.add("Range", [graph.constant(0, np.int64), steps, graph.constant(1, np.int64)])
    source = graph.add("Mod", [graph.add("Add", [graph.add("Unsqueeze", [positions, _axes(graph, 0)]),
                                                 graph.add("Unsqueeze", [padding, _axes(graph, 1)])]), steps])
    moved = graph.add("GatherElements", [ids, graph.add("Cast", [source], to=TensorProto.INT32)], axis=1)
    return moved, lengths, positions


def _axes(graph: _Graph, *axes: int) -> str:
    return graph.constant(list(axes), np.int64)


def _recurrent(graph: _Graph, layer: Any, x: str, lengths: str) -> tuple[str, str]:
    """One (possibly bidirectional) recurrent layer: (states (steps, batch, features), last state (batch, features))."""
    import keras

    directions = [layer.forward_layer, layer.backward_layer] if isinstance(layer, keras.layers.Bidirectional) else [layer]
    kinds = {keras.layers.LSTM: "LSTM", keras.layers.GRU: "GRU", keras.layers.SimpleRNN: "RNN"}
    op = kinds.get(type(directions[0]))
    if op is None:
        raise BundleError(f"onnx: layer {layer.name!r} is a {type(directions[0]).__name__}; ONNX has recurrent ops for "
                          f"LSTM, GRU and SimpleRNN only (a cell registered outside app/modeling/cells.py)")
    settings = directions[0].get_config()
    activations = [settings.get("recurrent_activation"), settings["activation"]] if op != "RNN" else [settings["activation"]]
    if op == "LSTM":
        activations.append(settings["activation"])
    unknown = [name for name in activations if name not in ACTIVATIONS]
    if unknown:
        raise BundleError(f"onnx: layer {layer.name!r} uses activation {unknown[0]!r}; ONNX's {op} takes "
                          f"{', '.join(ACTIVATIONS)} here")
    weights = [_cell_weights(op, direction) for direction in directions]
    attributes = {"hidden_size": directions[0].units, "direction": "bidirectional" if len(directions) == 2 else "forward",
                  "activations": [ACTIVATIONS[name] for name in activations] * len(directions)}
    if op == "GRU":
        attributes["linear_before_reset"] = int(settings.get("reset_after", True))
    prefix = layer.name
    inputs = [x, *(graph.weight(f"{prefix}_{part}", np.stack([w[i] for w in weights])) for i, part in enumerate("WRB")),
              lengths]
    states, last = graph.add(op, inputs, outputs=2, **attributes)
    # (steps, directions, batch, units) -> (steps, batch, directions * units): forward then backward, as Keras concatenates
    size = graph.constant([0, 0, -1], np.int64)
    states = graph.add("Reshape", [graph.add("Transpose", [states], perm=[0, 2, 1, 3]), size])
    last = graph.add("Reshape", [graph.add("Transpose", [last], perm=[1, 0, 2]), graph.constant([0, -1], np.int64)])
    return states, last


def _cell_weights(op: str, layer: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(W, R, B) of one direction in ONNX's layout: (gates*units, inputs), (gates*units, units), (2*gates*units,)."""
    cell = layer.cell
    kernel, recurrent, bias = _array(cell.kernel), _array(cell.recurrent_kernel), _array(cell.bias)
    if op == "LSTM":
        kernel, recurrent, bias = (_reorder(w, LSTM_GATE_ORDER) for w in (kernel, recurrent, bias))
    if op == "GRU" and bias.ndim == 2:  # reset_after: an input bias and a recurrent bias per gate
        input_bias, recurrent_bias = bias
    else:
        input_bias, recurrent_bias = bias, np.zeros_like(bias)
    return kernel.T, recurrent.T, np.concatenate([input_bias, recurrent_bias])


def _reorder(weights: np.ndarray, order: tuple[int, ...]) -> np.ndarray:
    gates = np.split(weights, len(order), axis=-1)
    return np.concatenate([gates[i] for i in order], axis=-1)


def _masked_max(graph: _Graph, states: str, mask: str) -> str:
    """As MaskedGlobalMaxPooling1D: the max over real steps, 0 for a row with none."""
    shifted = graph.add("Add", [graph.add("Mul", [states, mask]),
                                graph.add("Mul", [graph.add("Sub", [mask, graph.constant(1, np.float32)]), graph.constant(1e9, np.float32)])])
    pooled = graph.add("ReduceMax", [shifted, _axes(graph, 1)], keepdims=0)
    has_steps = graph.add("Greater", [graph.add("ReduceMax", [mask, _axes(graph, 1)], keepdims=0), graph.constant(0, np.float32)])
    return graph.add("Where", [has_steps, pooled, graph.constant(0, np.float32)])


def _masked_mean(graph: _Graph, states: str, mask: str) -> str:
    """As MaskedGlobalAveragePooling1D: the mean over real steps, 0 for a row with none."""
    total = graph.add("ReduceSum", [graph.add("Mul", [states, mask]), _axes(graph, 1)], keepdims=0)
    count = graph.add("Max", [graph.add("ReduceSum", [mask, _axes(graph, 1)], keepdims=0), graph.constant(1, np.float32)])
    return graph.add("Div", [total, count])


def _dense(graph: _Graph, layer: Any, x: str) -> str:
    return graph.add("Add", [graph.add("MatMul", [x, graph.weight(f"{layer.name}_kernel", _array(layer.kernel))]),
                             graph.weight(f"{layer.name}_bias", _array(layer.bias))])


def _array(variable: Any) -> np.ndarray:
    return np.asarray(variable.numpy() if hasattr(variable, "numpy") else variable, dtype=np.float32)
