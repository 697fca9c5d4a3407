"""int8 weights for an exported ONNX model's LSTM layers:
``python -m app.export --model models/<run> --format onnx --quantize int8``.

onnxruntime's dynamic quantization stores each LSTM's weight matrices in int8 and
quantizes each step's inputs as it runs (its DynamicQuantizeLSTM op). On a CPU with
int8 dot-product instructions that is the cheaper half of the work: the default
model's LSTM took 40 µs a comment instead of 65 on one core of this machine (AVX-512
VNNI). The probabilities then differ from the Keras model's by more than the 1e-5 of
the float export (docs/export.md measures how much), so it is an option, never what
``--format onnx`` writes by itself.

onnxruntime has an int8 LSTM but no int8 GRU or SimpleRNN, so runs of those cells are
refused: their graphs would be no faster.
"""

import logging
from pathlib import Path

from app.errors import BundleError

WEIGHTS_KEY = "weights"  # the ONNX metadata entry that says which weights a graph holds


def check_quantizable(cell: str) -> None:
    """Raise BundleError unless onnxruntime has an int8 form of ``cell``."""
    if cell != "lstm":
        raise BundleError(f"onnx --quantize int8: onnxruntime has an int8 LSTM but no int8 {cell} "
                          f"(this run's model.cell); export it without --quantize")


def quantize_lstm_weights(source: Path, target: Path) -> None:
    """Write ``source``'s graph to ``target`` with int8 LSTM weights, its metadata kept
    and marked ``weights: int8``."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Its advice to run its shape-inference pre-processing first is for static
    # quantization; the LSTM's weights have fixed shapes already.
    logging.disable(logging.WARNING)
    try:
        quantize_dynamic(source, target, weight_type=QuantType.QInt8, op_types_to_quantize=["LSTM"])
    finally:
        logging.disable(logging.NOTSET)
    proto = onnx.load(target)
    metadata = {entry.key: entry.value for entry in onnx.load(source, load_external_data=False).metadata_props}
    onnx.helper.set_model_props(proto, {**metadata, WEIGHTS_KEY: "int8"})
    onnx.save(proto, target)
