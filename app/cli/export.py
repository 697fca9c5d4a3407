"""Export a run saved by train.py for deployment, into the run's own export/ directory.

    python -m app.export --model models/<run> --format onnx         # export/model.onnx
    python -m app.export --model models/<run> --format savedmodel   # export/saved_model/
    python -m app.export --model models/<run> --format litert       # export/model.tflite

Each file's SHA-256 is recorded in the run's bundle.json. Then:

    python predict.py --model models/<run> --runtime onnx comments.tsv -o predictions.csv
"""

import argparse
import os
import sys
from pathlib import Path

from app.cli.common import add_verbose_flag, prepare_process, run_command
from app.export.formats import EXPORT_FORMATS, export_run


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The parsed command line; argparse exits on a usage error."""
    parser = argparse.ArgumentParser(prog="python -m app.export", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="a run directory saved by train.py")
    parser.add_argument("--format", required=True, action="append", choices=EXPORT_FORMATS.names(),
                        help="what to write (repeatable): " + "; ".join(f"{f.name}: {f.description}" for f in EXPORT_FORMATS))
    add_verbose_flag(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Export the run in each format asked for; returns the exit status."""
    args = parse_args(argv)
    prepare_process(args.verbose)
    return run_command(lambda: export(args))


def export(args: argparse.Namespace) -> int:
    """Write each format and print the files written; returns 0."""
    for format in dict.fromkeys(args.format):
        files = export_run(args.model, format)
        size = sum(file.stat().st_size for file in files)
        where = Path(os.path.commonpath(files))  # the file, or the directory of a SavedModel
        print(f"exported {format}: {where} ({size / 1e6:.2f} MB; SHA-256 in bundle.json)", file=sys.stderr)
    return 0
