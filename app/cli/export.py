"""Export a run saved by train.py for deployment, into the run's own export/ directory.

    python -m app.export --model models/<run> --format onnx         # export/model.onnx
    python -m app.export --model models/<run> --format savedmodel   # export/saved_model/
    python -m app.export --model models/<run> --format litert       # export/model.tflite
    python -m app.export --model models/<run> --format onnx --quantize int8  # int8 LSTM weights: faster, not exact

Each file's SHA-256 is recorded in the run's bundle.json. Then:

    python predict.py --model models/<run> --runtime onnx comments.tsv -o predictions.csv
"""

import argparse
import os
import sys
from pathlib import Path

from app.cli.common import add_verbose_flag, prepare_process, run_command
from app.export.formats import EXPORT_FORMATS, QUANTIZATIONS, export_run


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The parsed command line; argparse exits on a usage error."""
    parser = argparse.ArgumentParser(prog="python -m app.export", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="a run directory saved by train.py")
    parser.add_argument("--format", required=True, action="append", choices=EXPORT_FORMATS.names(),
                        help="what to write (repeatable): " + "; ".join(f"{f.name}: {f.description}" for f in EXPORT_FORMATS))
    parser.add_argument("--quantize", choices=[q for q in QUANTIZATIONS if q],
                        help="onnx only, LSTM runs: int8 LSTM weights (onnxruntime's dynamic quantization), faster on "
                             "CPUs with int8 dot-product instructions; the probabilities move by up to a few hundredths "
                             "(docs/export.md)")
    add_verbose_flag(parser)
    args = parser.parse_args(argv)
    unquantizable = [format for format in dict.fromkeys(args.format) if EXPORT_FORMATS[format].quantize is None]
    if args.quantize and unquantizable:
        quantizable = ", ".join(f.name for f in EXPORT_FORMATS if f.quantize)
        parser.error(f"--quantize {args.quantize} applies to --format {quantizable} only, not {', '.join(unquantizable)}")
    return args


def main(argv: list[str] | None = None) -> int:
    """Export the run in each format asked for; returns the exit status."""
    args = parse_args(argv)
    prepare_process(args.verbose)
    return run_command(lambda: export(args))


def export(args: argparse.Namespace) -> int:
    """Write each format and print the files written; returns 0."""
    for format in dict.fromkeys(args.format):
        files = export_run(args.model, format, args.quantize)
        size = sum(file.stat().st_size for file in files)
        where = Path(os.path.commonpath(files))  # the file, or the directory of a SavedModel
        weights = f", {args.quantize} weights" if args.quantize else ""
        print(f"exported {format}{weights}: {where} ({size / 1e6:.2f} MB; SHA-256 in bundle.json)", file=sys.stderr)
    return 0
