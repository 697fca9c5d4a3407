"""Serve a model saved by train.py over HTTP: a JSON API and a web page.

    python serve.py --model models/<run>                       # http://127.0.0.1:8000, the page at /
    python serve.py --model models/<run> --host 0.0.0.0 --api-key "$(python -c 'import secrets; print(secrets.token_urlsafe())')"

    curl -s localhost:8000/v1/predict -H 'content-type: application/json' -d '{"texts": ["배우들 연기가 정말 좋았어요"]}'
    curl -s localhost:8000/v1/predict/file -F file=@comments.csv -o predictions.csv

Endpoints, limits and security: docs/serving.md. SIGTERM (or Ctrl-C) drains: the
requests in flight finish, new ones get 503, then the process exits 0.
"""

import argparse
import os
from pathlib import Path

from app.cli.common import add_verbose_flag, integer_at_least, prepare_process, run_command
from app.serving.settings import MiB, ServeSettings

DEFAULTS = ServeSettings()
FLAGS = {  # the library's parameter -> this tool's flag, added to its errors
    "api_key": "--api-key or KOSENT_API_KEY",
    "max_texts": "--max-texts", "max_chars": "--max-chars", "max_body_bytes": "--max-body-mib",
    "max_upload_bytes": "--max-upload-mib", "request_timeout": "--request-timeout", "max_batch": "--max-batch",
    "batch_wait": "--batch-wait-ms", "runtime": "--runtime keras",
}


def seconds(text: str) -> float:
    """An argparse ``type``: a number of seconds > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, not {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError("must be a number of seconds > 0")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The parsed command line; argparse exits on a usage error."""
    parser = argparse.ArgumentParser(prog="serve.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="a run directory saved by train.py")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s; any other needs an API key)")
    parser.add_argument("--port", type=integer_at_least(0), default=8000, help="port (default: %(default)s)")
    parser.add_argument("--api-key", default=os.environ.get("KOSENT_API_KEY") or None,
                        help="required from clients (X-API-Key or Authorization: Bearer) on every endpoint but the health "
                             "checks and the page itself (default: $KOSENT_API_KEY; none on 127.0.0.1)")
    parser.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                        help="let pages from this origin call the API (repeatable; default: none, CORS off)")
    parser.add_argument("--max-texts", type=integer_at_least(1), default=DEFAULTS.max_texts,
                        help="comments per /v1/predict request (default: %(default)s)")
    parser.add_argument("--max-chars", type=integer_at_least(1), default=DEFAULTS.max_chars,
                        help="characters per comment; a longer one is refused with 413, not cut (default: %(default)s)")
    parser.add_argument("--max-body-mib", type=integer_at_least(1), default=DEFAULTS.max_body_bytes // MiB,
                        help="JSON request body, MiB (default: %(default)s)")
    parser.add_argument("--max-upload-mib", type=integer_at_least(1), default=DEFAULTS.max_upload_bytes // MiB,
                        help="/v1/predict/file upload, MiB (default: %(default)s)")
    parser.add_argument("--request-timeout", type=seconds, default=DEFAULTS.request_timeout,
                        help="seconds a request may wait for the model before a 503; also the longest drain (default: %(default)s)")
    parser.add_argument("--max-batch", type=integer_at_least(1), default=DEFAULTS.max_batch,
                        help="comments gathered from concurrent requests into one model call; 1 turns batching off "
                             "(default: %(default)s)")
    parser.add_argument("--batch-wait-ms", type=integer_at_least(0), default=round(DEFAULTS.batch_wait * 1000),
                        help="milliseconds the batcher waits for more requests after the first (default: %(default)s)")
    parser.add_argument("--runtime", choices=["keras", "onnx"], default="keras",
                        help="score with model.keras (keras, default) or with the run's ONNX export in onnxruntime, "
                             "without TensorFlow (python -m app.export --format onnx first; /v1/explain needs keras)")
    parser.add_argument("--workers", type=integer_at_least(0), default=1,
                        help="tokenizer processes for large uploads (default: %(default)s: tokenize in the server process)")
    add_verbose_flag(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM or Ctrl-C, and return the exit status."""
    args = parse_args(argv)
    prepare_process(args.verbose)
    return run_command(lambda: serve(args), FLAGS.get)


def serve(args: argparse.Namespace) -> int:
    """Check the settings, then serve the model (it loads in the background); returns 0 once drained."""
    from app.artifacts.run import SavedRun, read_config
    from app.serving.server import serve

    if not Path(args.model).is_dir():
        SavedRun.load(args.model)  # the BundleError naming the saved runs close to it, before TensorFlow loads
    read_config(args.model)  # a damaged run fails now, not in the background
    if args.runtime == "onnx":
        from app.artifacts.run import exported_files

        exported_files(args.model, "onnx")  # no export yet: say so now, with the command that makes it
    settings = ServeSettings(max_texts=args.max_texts, max_chars=args.max_chars, max_body_bytes=args.max_body_mib * MiB,
                             max_upload_bytes=args.max_upload_mib * MiB, request_timeout=args.request_timeout,
                             max_batch=args.max_batch, batch_wait=args.batch_wait_ms / 1000, api_key=args.api_key,
                             cors_origins=tuple(args.cors_origin))

    def load():
        from app.inference.classifier import Classifier

        return Classifier.load(args.model, workers=args.workers, runtime=args.runtime)

    serve(load, settings, args.host, args.port, "debug" if args.verbose else "warning")
    return 0
