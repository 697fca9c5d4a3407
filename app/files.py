"""Atomic writes: a directory (a run, a comparison, a checkpoint, a report) or a file
(a benchmark's results, a cache entry) is written beside its final place and renamed
into it only when complete, so a crash, Ctrl-C or SIGTERM never leaves a half-written
one behind."""

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO

from app.errors import InputError


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, binary: bool = False, encoding: str = "utf-8",
                newline: str | None = None) -> Iterator[IO]:
    """``with atomic_file(path) as handle:`` write to ``handle``, a temporary file beside
    ``path`` that is renamed onto it on a clean exit: a reader finds the old file or the
    new one, never part of one. On any exception the temporary file is removed (opening
    raises OSError, as open() does). ``newline``: as open()'s (``""`` for the csv module)."""
    path = Path(path)
    descriptor, partial = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with open(descriptor, "wb" if binary else "w", encoding=None if binary else encoding,
                  newline=None if binary else newline) as handle:
            yield handle
        os.chmod(partial, 0o666 & ~current_umask())  # mkstemp's 0600, made what open() would have made
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


def write_text_atomically(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    """``text`` written to ``path`` through ``atomic_file``."""
    with atomic_file(path, encoding=encoding) as handle:
        handle.write(text)


def write_json_atomically(path: str | os.PathLike, data) -> None:
    """``data`` as indented UTF-8 JSON (Hangul as itself, not \\u escapes) with a final
    newline, written to ``path`` through ``atomic_file``."""
    write_text_atomically(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def current_umask() -> int:
    """The process's umask (os.umask can only read it by setting it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


class AtomicDirectory:
    """``with AtomicDirectory(target) as staging:`` write into ``staging``; on a clean
    exit it becomes ``target`` (``.path`` says where), on any exception it is removed.

    ``mode``:
      new      a taken name gets a suffix (``name-2``, ``name-3``...), so two
               trainings never write into one directory
      replace  an existing ``target`` is swapped out for the new one (an epoch
               checkpoint replacing the last)
      merge    each file written is renamed into ``target``, which may hold other
               files (a folder the user named for reports): every file is whole
    """

    MODES = ("new", "replace", "merge")

    def __init__(self, target: str | os.PathLike, *, mode: str = "new") -> None:
        if mode not in self.MODES:
            raise ValueError(f"mode must be one of {', '.join(self.MODES)}, not {mode!r}")
        self.target, self.mode = Path(target), mode
        self.path: Path | None = None
        self._staging: Path | None = None

    def __enter__(self) -> Path:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self._staging = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.", suffix=".partial", dir=self.target.parent))
        return self._staging

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> bool:
        if kind is not None:  # Ctrl-C included: nothing half-written stays behind
            shutil.rmtree(self._staging, ignore_errors=True)
            return False
        try:
            self.path = {"new": self._publish, "replace": self._swap_in, "merge": self._merge}[self.mode]()
        except BaseException:
            shutil.rmtree(self._staging, ignore_errors=True)
            raise
        return False

    def _publish(self) -> Path:
        for attempt in range(1, 1000):
            final = self.target if attempt == 1 else self.target.with_name(f"{self.target.name}-{attempt}")
            if final.exists():
                continue
            try:
                os.rename(self._staging, final)  # atomic; fails if another run took the name meanwhile
                return final
            except OSError:
                continue
        raise InputError(f"{self.target.parent}: could not find a free directory name for {self.target.name}")

    def _merge(self) -> Path:
        self.target.mkdir(parents=True, exist_ok=True)
        for written in sorted(self._staging.iterdir()):
            os.replace(written, self.target / written.name)
        self._staging.rmdir()
        return self.target

    def _swap_in(self) -> Path:
        previous = self.target.with_name(f".{self.target.name}.previous")
        shutil.rmtree(previous, ignore_errors=True)
        if self.target.exists():
            self.target.rename(previous)
        os.rename(self._staging, self.target)
        shutil.rmtree(previous, ignore_errors=True)
        return self.target
