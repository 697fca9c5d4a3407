"""What every command-line tool shares: quiet TensorFlow start-up, the terminal's
logging, argparse types, and one mapping from the library's exceptions to messages
and exit codes.

Standard library only: a tool's ``--help`` and a mistyped flag answer in a moment.
"""

import argparse
import importlib.abc
import importlib.util
import logging
import os
import re
import signal
import sys
import tempfile
from collections.abc import Callable
from importlib.machinery import ModuleSpec
from typing import Any, TextIO

from app.errors import InputError, TrainingDiverged, TrainingFailed

# What TensorFlow's C++ core writes to stderr while it is imported: absl's early log
# lines (oneDNN, CUDA, cpu_feature_guard) and the text that goes with them
TF_NOISE = re.compile(rb"^([IWE]\d{4} |WARNING: All log messages before absl|To enable the following instructions|"
                      rb"AVX|\s*$)")


def quiet_tensorflow(verbose: bool) -> None:
    """Hide TensorFlow's start-up noise unless ``verbose`` (or KOSENT_VERBOSE=1).

    TensorFlow 2.21 writes absl lines to the stderr file descriptor while it is
    imported, whatever TF_CPP_MIN_LOG_LEVEL says; so the first ``import tensorflow``
    runs with that descriptor captured, and lines that are not such noise are written
    back. TF_CPP_MIN_LOG_LEVEL=3 quiets what it logs afterwards.
    """
    if verbose or os.environ.get("KOSENT_VERBOSE") == "1":
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" not in sys.modules and not any(isinstance(f, _QuietTensorFlowImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlowImport())


def prepare_process(verbose: bool) -> None:
    """Quiet TensorFlow and configure logging: for the tools and the processes they start."""
    quiet_tensorflow(verbose)
    configure_logging()


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` the usual way, and runs its import with stderr captured."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> ModuleSpec | None:
        """The usual spec for ``tensorflow``, its loader wrapped to filter stderr; None for other modules."""
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once: from here on the usual finders
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            load = spec.loader.exec_module
            spec.loader.exec_module = lambda module: _with_stderr_filtered(load, module)
        return spec


def _with_stderr_filtered(load: Callable, module: object) -> None:
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            load(module)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().splitlines(keepends=True) if not TF_NOISE.match(line)]
            if kept:
                sys.stderr.buffer.write(b"".join(kept))
                sys.stderr.flush()


class _Route(logging.Filter):
    """Results to standard output; progress, notes and warnings to standard error."""

    def __init__(self, to_stdout: bool) -> None:
        super().__init__()
        self.to_stdout = to_stdout

    def filter(self, record: logging.LogRecord) -> bool:
        """True when the record belongs on this handler's stream."""
        is_result = record.levelno == logging.INFO and not getattr(record, "progress", False)
        return is_result == self.to_stdout


class _CurrentStream(logging.StreamHandler):
    """Writes to whatever sys.stdout or sys.stderr is at the time (a test capturing
    output, a redirected stream), not the stream there was when logging was set up."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name_of_stream = name

    @property
    def stream(self) -> TextIO:
        """The current sys.stdout or sys.stderr."""
        return getattr(sys, self.name_of_stream)

    @stream.setter
    def stream(self, value: Any) -> None:  # logging.StreamHandler sets it; the property decides
        """Ignored: the stream is always the current one."""
        pass


class _Prefixed(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        """The message, prefixed with its level name for warnings and errors."""
        message = super().format(record)
        return f"{record.levelname.lower()}: {message}" if record.levelno >= logging.WARNING else message


def configure_logging() -> None:
    """Show the library's log records as the tools always printed them: results on
    stdout, progress on stderr, warnings as ``warning: ...`` on stderr."""
    logger = logging.getLogger("app")
    if logger.handlers:  # configured once per process
        return
    for stream, to_stdout in (("stdout", True), ("stderr", False)):
        handler = _CurrentStream(stream)
        handler.addFilter(_Route(to_stdout))
        handler.setFormatter(_Prefixed("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    # Keras and absl log through Python's logging too; only their warnings get through
    for name in ("absl", "tensorflow"):
        logging.getLogger(name).setLevel(logging.ERROR)


def integer_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse ``type``: an integer no smaller than ``minimum``, else a usage error."""

    def parse(text: str) -> int:
        """``text`` as an integer; raises ArgumentTypeError if it is not one or too small."""
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, not {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}")
        return value
    return parse


def worker_count(text: str) -> int:
    """``--workers``: 0 (every core) up to the machine's core count; raises ArgumentTypeError."""
    cores = os.cpu_count() or 1
    value = integer_at_least(0)(text)
    if value > cores:
        raise argparse.ArgumentTypeError(f"must be at most {cores}, the cores of this machine (0 = every core)")
    return value


def stop_on_sigterm() -> None:
    """`kill` (SIGTERM) stops a tool the way Ctrl-C does: KeyboardInterrupt, so every
    file being written is removed, not left half-written, and a training keeps its
    epoch checkpoint for --resume."""
    signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def add_verbose_flag(parser: argparse.ArgumentParser) -> None:
    """Add the ``--verbose`` flag (show TensorFlow's start-up messages) to ``parser``."""
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's start-up messages (also: KOSENT_VERBOSE=1)")


def run_command(command: Callable[[], int], flag_for: Callable[[str], str | None] | None = None) -> int:
    """Run a command-line tool's body and return its exit status.

    An InputError prints ``error: <message>`` and gives 2; a failed or diverged
    training gives 1; Ctrl-C gives 130 (no output file or model is left
    half-written: both are renamed into place only when complete); a closed pipe
    (``| head``) ends quietly. The library words errors in its own terms and names
    the ``parameter`` that would fix one; ``flag_for`` gives the tool's flag for it,
    added to the message.
    """
    def fail(error: BaseException, status: int) -> int:
        """Print ``error`` (with its flag, if any) to stderr and return ``status``."""
        parameter = getattr(error, "parameter", None)
        flag = flag_for(parameter) if flag_for and parameter else None
        print(f"error: {error}{f' ({flag})' if flag else ''}", file=sys.stderr)
        return status

    try:
        return command()
    except InputError as error:
        return fail(error, 2)
    except (TrainingDiverged, TrainingFailed) as error:
        return fail(error, 1)
    except KeyboardInterrupt:
        print("\ninterrupted: no model or output file was written", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
