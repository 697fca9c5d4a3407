"""Writing predictions: CSV, TSV or JSON Lines, streamed a chunk at a time, to a file
(written under a temporary name and renamed when complete) or to standard output.

While a file is written, its writer holds an exclusive lock (flock) on
``.<name>.lock`` beside it: a second process writing the same file fails at once
with one line, instead of both reporting success and one file silently winning. A
killed writer's lock is released by the kernel; the lock file it leaves is reused.

Encodings: a CSV or TSV file is written as UTF-8 with a BOM (utf-8-sig) unless told
otherwise, because Korean Excel opens a UTF-8 CSV without one as mojibake, while
pandas, Python's csv with utf-8-sig and kosent's own readers all skip the BOM. JSON
Lines and standard output are plain UTF-8: JSON forbids a BOM, and a pipe's next
command would read it as text. ``cp949`` (Korean Windows) cannot hold every
character: those are written as ``?`` and counted.
"""

import codecs
import errno
import fcntl
import io
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from app.errors import DataError
from app.files import current_umask

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

OUTPUT_FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
OUTPUT_ENCODINGS = ("utf-8", "utf-8-sig", "cp949")


def output_encoding(output: str | None, format: str, encoding: str | None = None) -> str:
    """``encoding`` if given (one of OUTPUT_ENCODINGS), else utf-8-sig for a CSV or TSV
    file and utf-8 for JSON Lines and standard output (see the module's docstring)."""
    if encoding is not None:
        if encoding.lower() not in OUTPUT_ENCODINGS:
            raise DataError(f"output encoding {encoding!r} is not one of {', '.join(OUTPUT_ENCODINGS)}",
                            parameter="output_encoding")
        return encoding.lower()
    return "utf-8-sig" if output is not None and format in ("csv", "tsv") else "utf-8"


class _UnwritableCounter:
    """A codec error handler that writes ``?`` for each character the encoding lacks, and counts them."""

    name = "kosent.count-unwritable"
    replaced = 0

    @classmethod
    def handle(cls, error: UnicodeEncodeError) -> tuple[str, int]:
        """``?`` in place of the characters, and where encoding resumes."""
        cls.replaced += error.end - error.start
        return "?" * (error.end - error.start), error.end


codecs.register_error(_UnwritableCounter.name, _UnwritableCounter.handle)


def output_format(output: str | None) -> str:
    """The format an output path's extension names; CSV for standard output (None)."""
    if output is None:
        return "csv"
    suffix = Path(output).suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise DataError(f"{output}: output extension must be one of {', '.join(OUTPUT_FORMATS)}")
    return OUTPUT_FORMATS[suffix]


def check_output_path(output: str | None, inputs: list[str]) -> None:
    """Before any work: an output must not be an input it is computed from, nor a
    directory, and its folder must be one this process can write in."""
    if not output:
        return
    path = Path(output)
    if any(path.resolve() == Path(i).resolve() for i in inputs):
        raise DataError(f"{output}: output would overwrite an input file; choose another output path")
    if path.is_dir():
        raise DataError(f"{output}: is a directory; name the output file, e.g. {path / 'predictions.csv'}")
    folder = next((parent for parent in [path.parent, *path.parent.parents] if parent.exists()), Path("."))
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise DataError(f"{output}: cannot write in {folder} (read-only or not a folder); choose another output path")


def _lock(path: Path) -> tuple[int, Path]:
    """(descriptor, lock file) of an exclusive lock on ``.<name>.lock`` beside ``path``;
    raises DataError at once when another process holds it."""
    lock = path.with_name(f".{path.name}.lock")
    for _ in range(10):
        try:  # O_NOFOLLOW: a symlink planted at the lock's name is never followed
            descriptor = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666 & ~current_umask())
        except OSError as failure:
            why = "a symbolic link is in its place" if failure.errno == errno.ELOOP else failure.strerror
            raise DataError(f"{path}: cannot take the lock {lock} ({why}); remove it or choose another output path") from None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            raise DataError(f"{path}: another process is writing this file (it holds {lock}); wait for it to finish, "
                            f"or choose another output path") from None
        try:  # the writer before us may have removed the lock file after we opened it: take the one there now
            if os.path.samestat(os.fstat(descriptor), os.stat(lock, follow_symlinks=False)):
                return descriptor, lock
        except FileNotFoundError:
            pass
        os.close(descriptor)
    raise DataError(f"{path}: could not take the lock {lock}: other processes keep replacing it")


def _unlock(descriptor: int, lock: Path) -> None:
    lock.unlink(missing_ok=True)  # while still held: whoever opened it meanwhile sees it is gone
    os.close(descriptor)


class OutputWriter:
    """Streams result frames to a file (written to a temporary name, renamed at the end,
    under the file's lock: see the module docstring) or stdout, in ``encoding``
    (default: ``output_encoding``'s rule)."""

    def __init__(self, path, format, encoding=None):
        self.path, self.format, self.columns = (Path(path) if path else None), format, None
        self.encoding = output_encoding(path, format, encoding)
        self._explicit = encoding is not None

    def __enter__(self):
        self._replaced_before = _UnwritableCounter.replaced
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lock = _lock(self.path)
            try:  # created exclusively under a name of its own: a file or symlink planted beside the target is never followed
                descriptor, partial = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".partial", dir=self.path.parent)
            except OSError as failure:
                _unlock(*self._lock)
                raise DataError(f"{self.path}: could not write the output ({failure.strerror})") from None
            self.partial = Path(partial)
            os.chmod(descriptor, 0o666 & ~current_umask())  # mkstemp's 0600, made what open() would have made
            self.handle = open(descriptor, "w", encoding=self.encoding, errors=_UnwritableCounter.name, newline="")
        elif self._explicit:  # standard output in the encoding asked for, whatever the terminal's
            self.handle = io.TextIOWrapper(sys.stdout.buffer, encoding=self.encoding, errors=_UnwritableCounter.name,
                                           newline="", write_through=True)
        else:
            self.handle = sys.stdout
        return self

    @property
    def unwritable(self) -> int:
        """Characters written as ``?`` because the encoding has no code for them."""
        return _UnwritableCounter.replaced - self._replaced_before

    def write(self, frame: "pd.DataFrame") -> None:
        """Append ``frame``'s rows; raises DataError when a CSV/TSV part's columns differ
        from the first's, or when the disk is full."""
        try:
            self._write(frame)
        except BrokenPipeError:  # `| head` closed the pipe: the tool ends quietly
            raise
        except OSError as failure:
            raise DataError(f"{self.path or '<stdout>'}: could not write the output ({failure.strerror})") from None

    def _write(self, frame: "pd.DataFrame") -> None:
        if self.format == "jsonl":
            if len(frame):  # pandas ends each record, the last included, with a newline
                frame.to_json(self.handle, orient="records", lines=True, force_ascii=False)
        else:  # one header for the whole file: every part must have its columns
            if self.columns is not None and list(frame.columns) != self.columns:
                raise DataError(f"inputs have different columns ({', '.join(map(str, frame.columns))} after "
                                f"{', '.join(map(str, self.columns))}); predict them separately or write .jsonl")
            # CRLF line ends (RFC 4180): pandas then quotes a lone "\r" inside a comment too
            frame.to_csv(self.handle, sep="\t" if self.format == "tsv" else ",", index=False,
                         header=self.columns is None, lineterminator="\r\n")
            self.columns = list(frame.columns)
        self.handle.flush()

    def __exit__(self, kind, error, trace):
        if self.path:
            try:
                self.handle.close()
                if kind is None:
                    self.partial.replace(self.path)
            except OSError as failure:  # a full disk, found when the last bytes are flushed
                self.partial.unlink(missing_ok=True)
                raise DataError(f"{self.path}: could not write the output ({failure.strerror})") from None
            finally:
                if kind is not None:
                    self.partial.unlink(missing_ok=True)
                _unlock(*self._lock)
        elif self._explicit:
            self.handle.detach()  # flushed; sys.stdout stays open
        if kind is None and self.unwritable:
            log.warning(f"{self.path or '<stdout>'}: {self.unwritable:,} character(s) that {self.encoding} cannot hold "
                        f"were written as '?' (utf-8-sig keeps them all)")
        return False
