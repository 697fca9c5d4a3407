"""Writing predictions: CSV, TSV or JSON Lines, streamed a chunk at a time, to a file
(written under a temporary name and renamed when complete) or to standard output."""

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from app.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

OUTPUT_FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def output_format(output: str | None) -> str:
    """The format an output path's extension names; CSV for standard output (None)."""
    if output is None:
        return "csv"
    suffix = Path(output).suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise DataError(f"{output}: output extension must be one of {', '.join(OUTPUT_FORMATS)}")
    return OUTPUT_FORMATS[suffix]


def check_output_path(output: str | None, inputs: list[str]) -> None:
    """An output must not overwrite one of the inputs it is computed from."""
    if output and any(Path(output).resolve() == Path(i).resolve() for i in inputs):
        raise DataError(f"{output}: output would overwrite an input file; choose another output path")


class OutputWriter:
    """Streams result frames to a file (written to a temporary name, renamed at the end) or stdout."""

    def __init__(self, path, format):
        self.path, self.format, self.columns = (Path(path) if path else None), format, None

    def __enter__(self):
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.partial = self.path.with_name(f".{self.path.name}.partial")
            self.handle = open(self.partial, "w", encoding="utf-8", newline="")
        else:
            self.handle = sys.stdout
        return self

    def write(self, frame: "pd.DataFrame") -> None:
        """Append ``frame``'s rows; raises DataError when a CSV/TSV part's columns differ from the first's."""
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
            self.handle.close()
            if kind is None:
                self.partial.replace(self.path)
            else:
                self.partial.unlink(missing_ok=True)
        return False
