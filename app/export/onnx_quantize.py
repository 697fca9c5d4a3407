"""int8 weights for an exported ONNX model's LSTM layers:
``python -m app.export --model models/<run> --format onnx --quantize int8``.

onnxruntime's dynamic quantization stores each LSTM's weight matrices in int8, and
its DynamicQuantizeLSTM op quantizes each step's inputs as it runs, so the LSTM's
matrix products run in int8: faster on a CPU with int8 dot-product instructions
(docs/export.md measures it on one with AVX-512 VNNI). The op is onnxruntime's own
(com.microsoft), so other ONNX runtimes cannot run the file. The probabilities then
differ from the Keras model's by more than the 1e-5 of the float export
(docs/export.md measures how much), so it is an option, never what ``--format onnx``
writes by itself.

onnxruntime has an int8 LSTM but no int8 GRU or SimpleRNN, so runs of those cells are
refused: their graphs would be no faster.
"""

import logging
from pathlib import Path

from app.errors import BundleError
from app.export.onnx_graph import WEIGHTS

QUANTIZABLE_CELLS = ("lstm",)  # the model.cell values onnxruntime has an int8 op for


def check_quantizable(cell: str) -> None:
    """Raise BundleError unless onnxruntime has an int8 form of ``cell``."""
    if cell not in QUANTIZABLE_CELLS:
        raise BundleError(f"onnx --quantize int8: onnxruntime has an int8 LSTM but no int8 {cell} "
                          f"(this run's model.cell); export it without --quantize")


def quantize_lstm_weights(source: Path, target: Path) -> None:
    """Write ``source``'s graph to ``target`` with int8 LSTM weights, marked ``weights: int8``
    in its metadata (which onnxruntime keeps)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # It warns through the root logger that its shape-inference pre-processing should
    # run first, which is for static quantization (an LSTM's weights have fixed shapes).
    # Silenced without touching the process's logging: the level is restored, and a
    # handler on the root logger stops logging.warning from adding one to stderr.
    previous, quiet = logging.root.manager.disable, logging.NullHandler()
    logging.root.addHandler(quiet)
    logging.disable(logging.WARNING)
    try:
        # reduce_range: 7-bit weights. Without VNNI (AVX2 or AVX-512 alone) onnxruntime's u8 x s8
        # products add pairs in 16 bits, which full-range weights overflow: on an AVX2-only CPU
        # they moved the test models' probabilities by up to 0.115, 7-bit weights within the tests' 0.02
        # (docs/export.md). The file must run right on whatever CPU it is deployed to.
        quantize_dynamic(source, target, weight_type=QuantType.QInt8, op_types_to_quantize=["LSTM"], reduce_range=True)
    finally:
        logging.disable(previous)
        logging.root.removeHandler(quiet)
    proto = onnx.load(target)
    onnx.helper.set_model_props(proto, {**{entry.key: entry.value for entry in proto.metadata_props}, WEIGHTS: "int8"})
    onnx.save(proto, target)
