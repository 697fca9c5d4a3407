"""Exporting a saved run for deployment: one registry entry per format.

    export_run("models/<run>", "onnx")   # -> [models/<run>/export/model.onnx]

Each export goes into the run's own export/ directory, is written beside its place and
renamed in (app.files.AtomicDirectory), and its files' SHA-256 are recorded in the
run's bundle.json, which is what the runtimes check before they load it. The run
itself is loaded with every check of SavedRun.load first, so a damaged run is refused.
The tokenizer stays outside the graph: an exported model takes token ids, and the
run's vocab.txt and tokenizer.json turn comments into them.
"""

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from app.files import AtomicDirectory
from app.registry import Registry

if TYPE_CHECKING:  # imported when an export runs: the command's --help lists the formats at once
    from app.artifacts.run import SavedRun


@dataclass(frozen=True)
class ExportFormat:
    """One format ``python -m app.export --format`` writes."""

    name: str  # the value of --format
    description: str
    target: str  # where it goes inside the run directory
    write: Callable[["SavedRun", Path], None]  # writes the export of a run to the path given (a file or a directory)
    quantize: Callable[["SavedRun", Path], None] | None = None  # writes its int8 form instead; None: it has none here


EXPORT_FORMATS: Registry[ExportFormat] = Registry("export format")
QUANTIZATIONS = (None, "int8")  # None: the model's own float32 weights


def export_run(path: str | os.PathLike, format: str, quantize: str | None = None) -> list[Path]:
    """Export the run at ``path`` in ``format``; returns the files written.
    ``quantize``: None (the model's own float32 weights) or int8 (onnx, LSTM runs only).

    Raises BundleError when the run fails its checks or has a part ``format`` cannot
    express (the message says which), ValueError for an unknown ``format`` or ``quantize``.
    """
    from app.artifacts.run import SavedRun, record_export

    if format not in EXPORT_FORMATS:
        raise ValueError(f"format must be one of {', '.join(EXPORT_FORMATS.names())}, not {format!r}")
    entry = EXPORT_FORMATS[format]
    if quantize not in QUANTIZATIONS:
        raise ValueError(f"quantize must be one of {', '.join(map(str, QUANTIZATIONS))}, not {quantize!r}")
    if quantize and entry.quantize is None:
        quantizable = ", ".join(f.name for f in EXPORT_FORMATS if f.quantize)
        raise ValueError(f"quantize={quantize!r} applies to {quantizable} only, not to format {format!r}")
    run = SavedRun.load(path, keras_model=False)  # every check of the run but the Keras model's
    write = entry.write
    if quantize:  # a cell without an int8 form is refused before TensorFlow loads
        from app.export.onnx_quantize import check_quantizable

        check_quantizable(run.config.model.cell)
        write = entry.quantize
    run = run.with_keras_model()
    target = run.path / entry.target
    if target.suffix:  # one file: renamed into export/, beside the other formats
        with AtomicDirectory(target.parent, mode="merge") as staging:
            write(run, staging / target.name)
        files = [target]
    else:  # a directory: swapped in whole
        with AtomicDirectory(target, mode="replace") as staging:
            write(run, staging)
        files = sorted(file for file in target.rglob("*") if file.is_file())
    record_export(run.path, format, files)
    return files


def _write_onnx(run: "SavedRun", path: Path) -> None:
    from app.export.onnx_graph import onnx_model

    path.write_bytes(onnx_model(run.model, run.config.model).SerializeToString())


def _write_quantized_onnx(run: "SavedRun", path: Path) -> None:
    from app.export.onnx_quantize import quantize_lstm_weights

    with tempfile.TemporaryDirectory(prefix="kosent-onnx-") as scratch:  # the float32 graph, quantized from
        _write_onnx(run, Path(scratch) / "model.onnx")
        quantize_lstm_weights(Path(scratch) / "model.onnx", path)


def _write_saved_model(run: "SavedRun", path: Path) -> None:
    from app.export.tensorflow_formats import write_saved_model

    write_saved_model(run.model, path)


def _write_litert(run: "SavedRun", path: Path) -> None:
    from app.export.tensorflow_formats import write_litert

    write_litert(run.model, run.config.model, path)


EXPORT_FORMATS.register(ExportFormat("onnx", "ONNX (opset 18) for onnxruntime: predict.py --runtime onnx, no TensorFlow",
                                     "export/model.onnx", _write_onnx, _write_quantized_onnx))
EXPORT_FORMATS.register(ExportFormat("savedmodel", "TensorFlow SavedModel with a serving_default signature (TF Serving)",
                                     "export/saved_model", _write_saved_model))
EXPORT_FORMATS.register(ExportFormat("litert", "LiteRT (TensorFlow Lite) flatbuffer for phones and small devices",
                                     "export/model.tflite", _write_litert))
