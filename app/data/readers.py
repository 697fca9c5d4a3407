"""Reading comment files: formats, encodings, label sets and where NSMC lives.

Every reader returns pandas DataFrames of strings with the file's own columns, in
the file's own order, so predict can write each row back with nothing lost.
Files are read in chunks; ``read_comments`` simply joins the chunks.
"""

import codecs
import csv
import io
import itertools
import json
import logging
import os
import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from app import paths
from app.data import nsmc
from app.errors import DataError

log = logging.getLogger(__name__)

FORMATS = {".tsv": "tsv", ".txt": "txt", ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
CHUNK_ROWS = 50_000
HEAD_BYTES = 1 << 16  # how much of a file is looked at to tell its encoding


# ----------------------------------------------------------------------------- locations

def resolve_data_path(spec: str) -> Path:
    """Turn ``nsmc:train``-style names and relative paths into an existing file path.

    Raises DataError when there is no such file."""
    if spec.startswith("nsmc:"):
        return nsmc.find_part(spec.split(":", 1)[1])
    path = Path(spec).expanduser()
    root = paths.project_root()
    if not path.is_absolute() and not path.exists() and (root / path).exists():
        path = root / path  # configs name files relative to the project
    return _existing_file(path)


def _existing_file(path):
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, expected a comment file")
    return path


# ----------------------------------------------------------------------------- reading

class _ReplacementCounter:
    """A codec error handler that puts U+FFFD for each undecodable run and counts the bytes."""

    name = "kosent.count-and-replace"
    replaced = 0

    @classmethod
    def handle(cls, error: UnicodeDecodeError) -> tuple[str, int]:
        """U+FFFD in place of the undecodable bytes, and where decoding resumes."""
        cls.replaced += error.end - error.start
        return "\ufffd", error.end


codecs.register_error(_ReplacementCounter.name, _ReplacementCounter.handle)

LONE_SURROGATE = re.compile("[\ud800-\udfff]")
LONE_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # in JSON text, before decoding


@dataclass
class Source:
    """Where comments come from: a file path, or a binary stream such as stdin.

    ``errors`` is "strict" (undecodable bytes stop reading with their line number)
    or "replace" (they become U+FFFD and their count is printed).
    """

    path: Path = None
    stream: object = None
    format: str = None
    encoding: str = None
    errors: str = "strict"

    @property
    def name(self) -> str:
        """The file path as text, or ``<stdin>`` for a stream."""
        return str(self.path) if self.path else "<stdin>"


def open_source(path: str | os.PathLike | None = None, stream: io.BufferedReader | None = None,
                format: str | None = None, encoding: str | None = None, text_column: str = "document",
                errors: str = "strict") -> Source:
    """Decide format (extension unless given) and encoding (detected unless given).

    A ``.txt`` file whose first line is a tab-separated header naming ``text_column``
    is TSV: that is how the original NSMC files (ratings_train.txt) are laid out.
    """
    if path is not None:
        path = _existing_file(Path(path))
        format = format or FORMATS.get(path.suffix.lower())
        if format is None:
            raise DataError(f"{path}: cannot tell the format from {path.suffix!r}; give its format: tsv, csv, jsonl or txt",
                            parameter="format")
        with open(path, "rb") as handle:
            head = handle.read(HEAD_BYTES + 1)
        whole = len(head) <= HEAD_BYTES
        head = head[:HEAD_BYTES]
    else:
        format = format or "txt"
        head, whole = stream.peek(HEAD_BYTES)[:HEAD_BYTES], False  # a pipe may hold more than it shows
    if encoding:
        try:
            codec = codecs.lookup(encoding)
        except LookupError:
            raise DataError(f"unknown encoding {encoding!r}; try utf-8, utf-8-sig, cp949, euc-kr or utf-16") from None
        # rot13, base64, zlib... are codecs but not text encodings; UTF-7 smuggles in lone surrogates
        if not codec._is_text_encoding or codec.name == "utf-7":
            raise DataError(f"{encoding!r} is not a text encoding for comment files; try utf-8, utf-8-sig, cp949, "
                            f"euc-kr or utf-16", parameter="encoding")
    encoding = encoding or detect_encoding(head, whole)
    if format == "txt" and path is not None and _has_tsv_header(head, encoding, text_column):
        format = "tsv"
    return Source(path=path, stream=stream, format=format, encoding=encoding, errors=errors)


def _has_tsv_header(head, encoding, text_column):
    first_line = head.split(b"\n", 1)[0].decode(encoding, errors="replace").lstrip("\ufeff").rstrip("\r")
    return text_column in first_line.split("\t")


def detect_encoding(head: bytes, whole: bool = True) -> str:
    """UTF-8 or UTF-16 by BOM, else UTF-8 when it decodes, else CP949 (Korean Windows).

    ``whole`` says ``head`` is the entire input; otherwise it may end inside a
    character, which is not held against the encoding.
    """
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    for encoding in ("utf-8", "cp949"):
        try:
            codecs.getincrementaldecoder(encoding)().decode(head, final=whole)
            return encoding
        except UnicodeDecodeError:
            continue
    return "utf-8"  # neither fits: reading reports the first bad byte and its line


def iter_chunks(source: Source, text_column: str, chunk_rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """Yield DataFrames of the source's rows, in order (see the readers for value types)."""
    readers = {"tsv": _read_delimited, "csv": _read_delimited, "jsonl": _read_jsonl, "txt": _read_text}
    replaced_before = _ReplacementCounter.replaced
    try:
        yield from readers[source.format](source, text_column, chunk_rows)
    except UnicodeDecodeError as error:
        raise DataError(f"{source.name}: {_describe_bad_bytes(source, error)}", parameter="encoding") from None
    replaced = _ReplacementCounter.replaced - replaced_before
    if replaced:
        log.warning(f"{source.name}: replaced {replaced:,} undecodable byte(s) with U+FFFD "
              f"(not valid {source.encoding})")


def read_comments(source: Source, text_column: str, chunk_rows: int = CHUNK_ROWS) -> pd.DataFrame:
    """The whole source as one DataFrame."""
    chunks = list(iter_chunks(source, text_column, chunk_rows))
    return pd.concat(chunks, ignore_index=True) if len(chunks) > 1 else chunks[0]


def _text_handle(source):
    """The source as text. A TSV or text line ends at "\n" only (a "\r" before it is
    dropped later): a lone "\r" inside a comment must not split its row. CSV keeps
    the csv module's rules, where a line break belongs inside quotes."""
    raw = open(source.path, "rb") if source.path else source.stream
    errors = _ReplacementCounter.name if source.errors == "replace" else "strict"
    return io.TextIOWrapper(raw, encoding=source.encoding, errors=errors, newline="" if source.format == "csv" else "\n")


def _read_delimited(source, text_column, chunk_rows, extra_empty_fields_seen=False):
    # index_col=False: a row with a trailing delimiter must not turn the first column into an index
    sep, quoting = _dialect(source)
    # skip_blank_lines=False: a blank line is a row (an empty comment), as in a .txt file
    options = dict(sep=sep, quoting=quoting, dtype=str, keep_default_na=False, na_filter=False, index_col=False,
                   chunksize=chunk_rows, skip_blank_lines=False)
    if source.format == "tsv":
        options["lineterminator"] = "\n"  # not a lone "\r"; the "\r" of a CRLF file is stripped below
    if source.path is not None:
        _refuse_duplicate_columns(source)
    handle = _text_handle(source)
    try:
        with warnings.catch_warnings():
            # pandas only warns when the first row has more fields than the header (it
            # drops them); an extra field that holds text must stop reading instead
            warnings.simplefilter("ignore" if extra_empty_fields_seen else "error", pd.errors.ParserWarning)
            with pd.read_csv(handle, **options) as reader:
                for number, chunk in enumerate(reader):
                    if source.format == "tsv":
                        chunk = _without_carriage_returns(chunk)
                    if number == 0:  # a header-only file gives one empty chunk
                        _require_column(source, chunk.columns, text_column)
                    yield chunk
    except pd.errors.ParserWarning:
        if source.path is not None and not _first_row_extra_text(source):
            # only empty extra fields (rows ending in a delimiter, as some exports write them)
            yield from _read_delimited(source, text_column, chunk_rows, extra_empty_fields_seen=True)
            return
        raise DataError(f"{source.name}: line 2 has more fields than the header; a delimiter inside a comment? "
                        f"(quote such fields in CSV, or remove the extra tab)") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{source.name}: file is empty; expected a header line naming the column {text_column!r}") from None
    except pd.errors.ParserError as error:
        message = str(error).replace("Error tokenizing data. C error: ", "").strip()
        raise DataError(f"{source.name}: {message}") from None
    finally:
        handle.close()


def _without_carriage_returns(chunk):
    """A CRLF file read with "\n" as the line end leaves "\r" after the last field."""
    last = chunk.columns[-1]
    if isinstance(last, str) and last.endswith("\r"):
        chunk = chunk.rename(columns={last: last[:-1]})
        last = last[:-1]
    if len(chunk):
        chunk[last] = chunk[last].str.removesuffix("\r")
    return chunk


def _refuse_duplicate_columns(source):
    """pandas renames a repeated column (id, id.1) and the first one would be read unnoticed."""
    sep, quoting = _dialect(source)
    # plain "replace": bad bytes are counted once, by the reading that follows
    with open(source.path, encoding=source.encoding, errors="replace", newline="") as handle:
        header = next(csv.reader(handle, delimiter=sep, quoting=quoting), [])
    names = [name.removesuffix("\r") for name in header]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise DataError(f"{source.name}: line 1: the header names {', '.join(map(repr, repeated))} more than once; "
                        f"give each column its own name")


def _dialect(source):
    """Separator and quoting: TSV has quoting off (NSMC reviews hold bare quotes)."""
    return ("\t", csv.QUOTE_NONE) if source.format == "tsv" else (",", csv.QUOTE_MINIMAL)


def _first_row_extra_text(source):
    """Whether the first data row has fields beyond the header's that hold text."""
    sep, quoting = _dialect(source)
    with _text_handle(source) as handle:
        rows = list(itertools.islice(csv.reader(handle, delimiter=sep, quoting=quoting), 2))
    return len(rows) == 2 and any(field.strip() for field in rows[1][len(rows[0]):])


def _read_jsonl(source, text_column, chunk_rows):
    records, seen_column = [], False
    with _text_handle(source) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise DataError(f"{source.name}: line {number}: not valid JSON ({error.msg})") from None
            if LONE_SURROGATE_ESCAPE.search(line):
                record = json.loads(valid_text(json.dumps(record, ensure_ascii=False)))
            if not isinstance(record, dict):
                raise DataError(f"{source.name}: line {number}: expected a JSON object, got {type(record).__name__}")
            if text_column not in record:
                raise DataError(f"{source.name}: line {number}: no key {text_column!r} (it has: {', '.join(record) or 'nothing'})")
            seen_column = True
            records.append(record)
            if len(records) == chunk_rows:
                yield _records_frame(records, text_column)
                records = []
    if records or not seen_column:
        yield _records_frame(records, text_column)


def valid_text(text: str) -> str:
    """``text`` with lone UTF-16 surrogates (half a pair, which JSON escapes and command-line
    arguments with invalid bytes can hold) replaced by U+FFFD: no tokenizer accepts them
    and no UTF-8 file can hold them."""
    return LONE_SURROGATE.sub("\ufffd", text)


def _records_frame(records, text_column):
    """Other fields keep their JSON types; the text field becomes text: null is an
    empty comment and a number its digits, never a TypeError later."""
    if not records:
        return pd.DataFrame({text_column: pd.Series(dtype=object)})
    frame = pd.DataFrame(records, dtype=object)  # object: an int some record lacks stays an int
    frame[text_column] = pd.Series([_as_text(record[text_column]) for record in records], dtype=object)
    return frame


def _as_text(value):
    if isinstance(value, str):
        return value
    return "" if value is None else json.dumps(value, ensure_ascii=False)


def _read_text(source, text_column, chunk_rows):
    lines, yielded = [], False
    with _text_handle(source) as handle:
        for line in handle:
            lines.append(line.removesuffix("\n").removesuffix("\r"))
            if len(lines) == chunk_rows:
                yield pd.DataFrame({text_column: lines}, dtype=object)
                lines, yielded = [], True
    if lines or not yielded:  # an empty file still gives one (empty) chunk with the column
        yield pd.DataFrame({text_column: lines}, dtype=object)


def _require_column(source, columns, column):
    if column not in columns:
        shown = ", ".join(map(str, columns))
        raise DataError(f"{source.name}: no column {column!r} (the file has: {shown}); name the column that holds the comments",
                        parameter="text_column")


def _describe_bad_bytes(source, error):
    if source.path is None:
        return f"input is not valid {source.encoding} ({error.reason}); give its encoding, or replace undecodable bytes"
    data = source.path.read_bytes()
    try:
        data.decode(source.encoding)
        offset = error.start
    except UnicodeDecodeError as whole:
        offset = whole.start
    line = data.count(b"\n", 0, offset) + 1
    return (f"line {line}: byte 0x{data[offset]:02x} is not valid {source.encoding}; give its encoding "
            f"(e.g. cp949, utf-8), or replace undecodable bytes to read past it")


# ----------------------------------------------------------------------------- labels

def normalize_label(value: object) -> str:
    """``1``, ``1.0`` and `` 1 `` are the same label; other text stays as written."""
    text = str(value).strip()
    if re.fullmatch(r"[+-]?\d+\.0*", text):
        text = text.split(".")[0]
    return text


@dataclass
class LabelSet:
    """The classes a model knows: raw values as in the training file, and display names."""

    values: list
    names: list

    @classmethod
    def fit(cls, raw_labels: Iterable[object], label_names: dict[str, str] | None = None,
            source: str = "training data") -> "LabelSet":
        """The label set of ``raw_labels`` (sorted, numbers first), named by ``label_names``.

        Raises DataError for fewer than two classes or names of labels that are not there."""
        values = sorted({normalize_label(v) for v in raw_labels}, key=_label_order)
        if len(values) < 2:
            raise DataError(f"{source}: needs at least two classes to learn from, found {values or 'none'}")
        label_names = label_names or {}
        unknown = set(label_names) - set(values)
        if unknown:
            raise DataError(f"data.label_names names {sorted(unknown)} which are not labels in {source} (labels: {', '.join(values)})")
        return cls(values=values, names=[label_names.get(v, v) for v in values])

    def encode(self, raw_labels: Iterable[object]) -> np.ndarray:
        """Class indices; -1 for labels this set does not know. Accepts values or names."""
        index = {v: i for i, v in enumerate(self.values)} | {n: i for i, n in enumerate(self.names)}
        return np.array([index.get(normalize_label(v), -1) for v in raw_labels], dtype=np.int64)

    def vocabulary_of(self, raw_labels: Iterable[object]) -> str:
        """"values" when ``raw_labels`` are written as the training file's values (0, 1),
        "names" when as the display names (negative, positive): whichever matches more."""
        labels = [normalize_label(v) for v in raw_labels]
        as_values = sum(label in self.values for label in labels)
        as_names = sum(label in self.names for label in labels)
        return "values" if as_values > as_names else "names"

    def to_json(self) -> dict[str, list]:
        """{"values": [...], "names": [...]}, as labels.json holds it."""
        return {"values": self.values, "names": self.names}

    @classmethod
    def from_json(cls, data: dict) -> "LabelSet":
        """The LabelSet that ``to_json`` wrote; a missing key raises KeyError."""
        return cls(values=list(data["values"]), names=list(data["names"]))


def _label_order(value):
    return (0, int(value), "") if re.fullmatch(r"[+-]?\d+", value) else (1, 0, value)


def require_label_column(columns: Iterable[object], label_column: str, source: str) -> None:
    """Raise DataError naming the file's columns when ``label_column`` is not one of them."""
    columns = list(columns)
    if label_column not in columns:
        raise DataError(f"{source}: no label column {label_column!r} (the file has: {', '.join(map(str, columns))}); "
                        f"set data.label_column", parameter="label_column")


def first_rows(path: Path, data_config: Any) -> pd.DataFrame | None:
    """The first row of a labeled file (None when it has none), read as the config's
    DataConfig says: reading it checks the format, the start's encoding and the text column."""
    source = open_source(path, format=data_config.format, encoding=data_config.encoding,
                         text_column=data_config.text_column, errors=data_config.encoding_errors)
    return next(iter_chunks(source, data_config.text_column, chunk_rows=1), None)


def drop_unusable_rows(frame: pd.DataFrame, text_column: str, label_column: str,
                       source: str) -> tuple[pd.DataFrame, dict[str, int]]:
    """Training rows need text and a label; return the kept rows and what was dropped."""
    require_label_column(frame.columns, label_column, source)
    texts = frame[text_column].astype(str)
    labels = frame[label_column].astype(str).map(str.strip)
    empty_text = texts.str.strip() == ""
    missing_label = labels.isin(["", "nan", "NaN", "None", "null"]) & ~empty_text
    kept = frame[~empty_text & ~missing_label].reset_index(drop=True)
    return kept, {"empty_text": int(empty_text.sum()), "missing_label": int(missing_label.sum())}


def load_labeled(spec: str, data_config: Any) -> tuple[pd.DataFrame, dict[str, int], str]:
    """Read a labeled file named in the config; rows without text or label are dropped.

    ``data_config`` is the config's DataConfig. Returns (frame, dropped counts, the file's name).
    """
    source = open_source(resolve_data_path(spec), format=data_config.format, encoding=data_config.encoding,
                         text_column=data_config.text_column, errors=data_config.encoding_errors)
    frame = read_comments(source, data_config.text_column)
    frame, dropped = drop_unusable_rows(frame, data_config.text_column, data_config.label_column, source.name)
    return frame, dropped, source.name
