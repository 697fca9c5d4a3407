"""Reading comment files: formats, encodings, label sets and where NSMC lives.

Every reader returns pandas DataFrames of strings with the file's own columns, in
the file's own order, so predict can write each row back with nothing lost.
Files are read in chunks; ``read_comments`` simply joins the chunks.

A record that cannot be read (a JSON Lines line that is not JSON, not an object or
has no text; a CSV/TSV row with more fields than the header) does not stop the file:
it comes back in its place with an empty text and a status in the READ_STATUS column
(``missing_text`` or ``malformed_record``), counted in one warning. ``strict=True``
stops at the first one instead, naming its file and line.

Memory is bounded by the chunk, not the file: a line longer than MAX_LINE_BYTES stops
reading with its line number (a file without line breaks, or /dev/zero through a
pipe), devices are refused, and a FIFO is read once, as it is written.
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
from contextlib import contextmanager
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
MAX_LINE_BYTES = 8 << 20  # 8 MiB: 100 times a comment's 20,000 characters kept for the tokenizer
READ_STATUS = "\x00read_status"  # the column of a chunk holding why a row could not be read ("" if it could)
MISSING_TEXT, MALFORMED_RECORD = "missing_text", "malformed_record"


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
    """Where comments come from: a file path, or a binary stream such as stdin or a FIFO.

    ``errors`` is "strict" (undecodable bytes stop reading with their line number)
    or "replace" (they become U+FFFD and their count is printed). ``strict`` makes a
    record that cannot be read stop reading too, instead of getting a status.
    ``head`` is the input's first bytes, as seen when the encoding was detected.
    """

    path: Path = None
    stream: object = None
    format: str = None
    encoding: str = None
    errors: str = "strict"
    strict: bool = False
    head: bytes = b""

    @property
    def name(self) -> str:
        """The file path as text, or ``<stdin>`` for a stream."""
        return str(self.path) if self.path else "<stdin>"

    @property
    def rereadable(self) -> bool:
        """Whether reading it again starts from the beginning (a file, not a stream)."""
        return self.stream is None


def open_source(path: str | os.PathLike | None = None, stream: io.BufferedReader | None = None,
                format: str | None = None, encoding: str | None = None, text_column: str = "document",
                errors: str = "strict", strict: bool = False) -> Source:
    """Decide format (extension unless given) and encoding (detected unless given).

    A ``.txt`` file whose first line is a tab-separated header naming ``text_column``
    is TSV: that is how the original NSMC files (ratings_train.txt) are laid out.
    A FIFO is opened here and read once, as a stream; a device is refused.
    """
    if path is not None:
        path = _existing_file(Path(path))
        format = format or FORMATS.get(path.suffix.lower())
        if format is None:
            raise DataError(f"{path}: cannot tell the format from {path.suffix!r}; give its format: tsv, csv, jsonl or txt",
                            parameter="format")
        if path.is_fifo():
            stream = open(path, "rb")  # waits for a writer; what it writes can be read only once
        elif not path.is_file():
            raise DataError(f"{path}: is a device or special file, not a comment file (a device such as /dev/zero "
                            f"never ends); give a file, or pipe it to standard input")
    if stream is None:
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
    source = Source(path=path, stream=stream, format=format, encoding=encoding, errors=errors, strict=strict, head=head)
    if format in ("csv", "tsv"):
        _refuse_duplicate_columns(source)
    return source


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
    """Yield DataFrames of the source's rows, in order (see the readers for value types).

    A chunk with rows that could not be read has a READ_STATUS column saying why
    (see the module docstring); ``split_read_status`` takes it off."""
    readers = {"tsv": _read_delimited, "csv": _read_delimited, "jsonl": _read_jsonl, "txt": _read_text}
    replaced_before = _ReplacementCounter.replaced
    unreadable = _Unreadable(source)
    yield from readers[source.format](source, text_column, chunk_rows, unreadable)
    unreadable.report()
    replaced = _ReplacementCounter.replaced - replaced_before
    if replaced:
        log.warning(f"{source.name}: replaced {replaced:,} undecodable byte(s) with U+FFFD "
              f"(not valid {source.encoding})")


def read_comments(source: Source, text_column: str, chunk_rows: int = CHUNK_ROWS) -> pd.DataFrame:
    """The whole source as one DataFrame."""
    chunks = list(iter_chunks(source, text_column, chunk_rows))
    return pd.concat(chunks, ignore_index=True) if len(chunks) > 1 else chunks[0]


def split_read_status(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """(``frame`` without its READ_STATUS column, each row's status: "" where the row
    was read, else missing_text or malformed_record)."""
    if READ_STATUS not in frame.columns:
        return frame, np.full(len(frame), "", dtype=object)
    return frame.drop(columns=READ_STATUS), frame[READ_STATUS].to_numpy(dtype=object)


class _Unreadable:
    """The records of one source that could not be read: refused at once when the
    source is strict, else counted by status and reported in one warning."""

    def __init__(self, source):
        self.source, self.counts, self.first = source, {}, None

    def add(self, line, status, why):
        """Record line ``line``'s problem (raises DataError for a strict source)."""
        if self.source.strict:
            raise DataError(f"{self.source.name}: line {line}: {why}")
        self.counts[status] = self.counts.get(status, 0) + 1
        self.first = self.first or f"line {line}: {why}"

    def report(self):
        if self.counts:
            total = sum(self.counts.values())
            statuses = ", ".join(f"{status} {count:,}" for status, count in sorted(self.counts.items()))
            log.warning(f"{self.source.name}: {total:,} record(s) could not be read and keep their place with a status "
                        f"({statuses}); the first: {self.first}")


def _cut(text, limit=80):
    """``text`` for a message, cut to ``limit`` characters: a file's values are not echoed whole."""
    return text if len(text) <= limit else text[:limit] + "..."


class _BoundedLines(io.BufferedIOBase):
    """A binary stream passed through as it is read, counting line ends: a line longer
    than MAX_LINE_BYTES stops reading before it fills the memory, and a decoding
    error can be placed on its line without reading the input again."""

    def __init__(self, raw, source):
        super().__init__()
        self.raw, self.source = raw, source
        self.newline = _newline_bytes(source)
        self.lines = 0  # line ends read so far
        self.line_bytes = 0  # bytes since the last line end

    def readable(self):
        return True

    def read1(self, size=-1):
        return self._count(self.raw.read1(size))

    def read(self, size=-1):
        if size is not None and size >= 0:
            return self._count(self.raw.read(size))
        return b"".join(iter(lambda: self._count(self.raw.read(1 << 20)), b""))

    def close(self):
        if not self.closed:
            self.raw.close()
        super().close()

    def _count(self, block):
        newline, first = self.newline, block.find(self.newline)
        if first < 0:
            self.line_bytes += len(block)
            self._check(self.line_bytes, self.lines + 1)
        else:
            self._check(self.line_bytes + first, self.lines + 1)
            last = block.rfind(newline)
            if last - first > MAX_LINE_BYTES:  # whole lines inside one block: only with a small limit
                for number, line in enumerate(block[first + len(newline):last].split(newline), start=self.lines + 2):
                    self._check(len(line), number)
            self.lines += block.count(newline)
            self.line_bytes = len(block) - last - len(newline)
            self._check(self.line_bytes, self.lines + 1)
        return block

    def _check(self, length, line):
        if length > MAX_LINE_BYTES:
            raise DataError(f"{self.source.name}: line {line:,} is longer than {MAX_LINE_BYTES:,} bytes; a comment "
                            f"file has line breaks (only the first and last 10,000 characters of a comment are used)")

    def line_of(self, error: UnicodeDecodeError) -> int:
        """The line of the first byte ``error`` names: the bytes it was decoding end
        where reading has got to."""
        after = error.object[error.start:]
        return self.lines - after.count(self.newline) + 1


def _newline_bytes(source):
    """How "\\n" is written in the source's encoding (UTF-16 by its BOM)."""
    name = codecs.lookup(source.encoding).name
    if name in ("utf-16", "utf-32"):
        little = source.head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF32_LE)) or not source.head
        name += "-le" if little else "-be"
    return "\n".encode(name)


@contextmanager
def _text_handle(source):
    """The source as text. A TSV or text line ends at "\\n" only (a "\\r" before it is
    dropped later): a lone "\\r" inside a comment must not split its row. CSV keeps
    the csv module's rules, where a line break belongs inside quotes. Bytes that are
    not valid in the encoding stop reading with their line (or become U+FFFD)."""
    raw = open(source.path, "rb") if source.stream is None else source.stream
    counted = _BoundedLines(raw, source)
    errors = _ReplacementCounter.name if source.errors == "replace" else "strict"
    handle = io.TextIOWrapper(counted, encoding=source.encoding, errors=errors,
                              newline="" if source.format == "csv" else "\n")
    try:
        yield handle
    except UnicodeDecodeError as error:
        byte = error.object[error.start]
        raise DataError(f"{source.name}: line {counted.line_of(error):,}: byte 0x{byte:02x} is not valid {source.encoding}; "
                        f"give its encoding (e.g. cp949, utf-8), or replace undecodable bytes to read past it",
                        parameter="encoding") from None
    finally:
        handle.close()


SKIPPED_LINE = re.compile(r"Skipping line (\d+): expected (\d+) fields, saw (\d+)")


def _read_delimited(source, text_column, chunk_rows, unreadable):
    # index_col=False: a row with a trailing delimiter must not turn the first column into an index
    sep, quoting = _dialect(source)
    # skip_blank_lines=False: a blank line is a row (an empty comment), as in a .txt file.
    # on_bad_lines="warn": a row with more fields than the header is skipped with a
    # warning naming its line (pandas counts rows, header included), and put back here.
    # dtype=object: Python strings, as the tokenizer and the output writer take them;
    # pandas 3's str columns are Arrow arrays, converted back comment by comment (it
    # cost predict.py 0.7 s of CPU per 100K comments, most of it in Arrow's threads)
    options = dict(sep=sep, quoting=quoting, dtype=object, keep_default_na=False, na_filter=False, index_col=False,
                   chunksize=chunk_rows, skip_blank_lines=False, on_bad_lines="error" if source.strict else "warn")
    if source.format == "tsv":
        options["lineterminator"] = "\n"  # not a lone "\r"; the "\r" of a CRLF file is stripped below
    # pandas only warns when the first row has more fields than the header (it drops
    # them): fine when they are empty (rows ending in a delimiter, as some exports
    # write them), but an extra field that holds text must stop reading
    extra_text_in_first_row = _first_row_extra_text(source)
    rows_before = 0  # rows of the file before this chunk, skipped ones included
    with _text_handle(source) as handle:
        try:
            with pd.read_csv(handle, **options) as reader:
                for number in itertools.count():
                    with warnings.catch_warnings(record=True) as caught:  # only while pandas reads, never while we yield
                        warnings.simplefilter("always", pd.errors.ParserWarning)
                        chunk = next(reader, None)
                    skipped = _skipped_rows(source, caught, extra_text_in_first_row)
                    if chunk is None:
                        break
                    if source.format == "tsv":
                        chunk = _without_carriage_returns(chunk)
                    if number == 0:  # a header-only file gives one empty chunk
                        _require_column(source, chunk.columns, text_column)
                    chunk = _with_skipped_rows(chunk, [line - 2 - rows_before for line, _ in skipped], rows_before)
                    for line, why in skipped:
                        unreadable.add(line, MALFORMED_RECORD, why)
                    rows_before += len(chunk)
                    yield chunk
        except pd.errors.EmptyDataError:
            raise DataError(f"{source.name}: file is empty; expected a header line naming the column {text_column!r}") from None
        except pd.errors.ParserError as error:
            message = str(error).replace("Error tokenizing data. C error: ", "").strip()
            raise DataError(f"{source.name}: {message}") from None


def _skipped_rows(source, caught, extra_text_in_first_row):
    """[(line, why)] of the rows pandas skipped while reading a chunk; re-raises the
    warnings that are not about rows."""
    skipped = []
    for warning in caught:
        message = str(warning.message)
        if not issubclass(warning.category, pd.errors.ParserWarning):
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
        elif SKIPPED_LINE.search(message):
            skipped += [(int(line), f"{saw} fields where the header has {expected}; a delimiter inside a comment? "
                         f"(quote such fields in CSV, or remove the extra tab)")
                        for line, expected, saw in SKIPPED_LINE.findall(message)]
        elif extra_text_in_first_row:
            raise DataError(f"{source.name}: line 2 has more fields than the header; a delimiter inside a comment? "
                            f"(quote such fields in CSV, or remove the extra tab)")
    return skipped


def _with_skipped_rows(chunk, positions, rows_before):
    """``chunk`` with an empty row put back at each of ``positions`` (counted in the
    chunk with those rows), its READ_STATUS malformed_record; the index counts every
    row of the file."""
    if not positions:
        return chunk
    total = len(chunk) + len(positions)
    if not all(0 <= position < total for position in positions):  # pandas always warns in the chunk it reads
        raise RuntimeError(f"a skipped row's position {positions} is outside its chunk of {total} rows")
    read = [position for position in range(total) if position not in set(positions)]
    frame = pd.DataFrame("", index=range(total), columns=chunk.columns, dtype=object)
    frame.iloc[read] = chunk.to_numpy(dtype=object)
    frame[READ_STATUS] = ""
    frame.loc[positions, READ_STATUS] = MALFORMED_RECORD
    frame.index = range(rows_before, rows_before + total)
    return frame


def _without_carriage_returns(chunk):
    """A CRLF file read with "\\n" as the line end leaves "\\r" after the last field."""
    last = chunk.columns[-1]
    if isinstance(last, str) and last.endswith("\r"):
        chunk = chunk.rename(columns={last: last[:-1]})
        last = last[:-1]
    if len(chunk):
        chunk[last] = chunk[last].str.removesuffix("\r")
    return chunk


def _head_rows(source, count):
    """The first ``count`` rows of the source's head (its first bytes), as the csv
    module splits them; a row cut at the head's end is left out."""
    text = codecs.getincrementaldecoder(source.encoding)(errors="replace").decode(source.head)
    sep, quoting = _dialect(source)
    lines = text.lstrip("\ufeff").splitlines(keepends=True)
    rows = list(itertools.islice(csv.reader(lines, delimiter=sep, quoting=quoting), count + 1))
    complete = len(lines) > 1 or text.endswith("\n")
    return [[field.removesuffix("\r") for field in row] for row in rows[:count]] if complete else []


def _refuse_duplicate_columns(source):
    """pandas renames a repeated column (id, id.1) and the first one would be read unnoticed."""
    header = next(iter(_head_rows(source, 1)), [])
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise DataError(f"{source.name}: line 1: the header names {', '.join(repr(_cut(name)) for name in repeated)} "
                        f"more than once; give each column its own name")


def _dialect(source):
    """Separator and quoting: TSV has quoting off (NSMC reviews hold bare quotes)."""
    return ("\t", csv.QUOTE_NONE) if source.format == "tsv" else (",", csv.QUOTE_MINIMAL)


def _first_row_extra_text(source):
    """Whether the first data row has fields beyond the header's that hold text."""
    rows = _head_rows(source, 2)
    return len(rows) == 2 and any(field.strip() for field in rows[1][len(rows[0]):])


def _read_jsonl(source, text_column, chunk_rows, unreadable):
    records, statuses, yielded = [], [], False
    with _text_handle(source) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            record, status, why = _json_record(line, text_column)
            if status:
                unreadable.add(number, status, why)
            records.append(record)
            statuses.append(status)
            if len(records) == chunk_rows:
                yield _records_frame(records, statuses, text_column)
                records, statuses, yielded = [], [], True
    if records or not yielded:
        yield _records_frame(records, statuses, text_column)


def _json_record(line, text_column):
    """(record, status, why) for one JSON Lines line: status "" when it is readable,
    else the record keeps what it has (nothing for a line that is not an object)."""
    try:
        record = json.loads(line)
    except (json.JSONDecodeError, RecursionError) as error:
        return {}, MALFORMED_RECORD, f"not valid JSON ({getattr(error, 'msg', 'nested too deep')})"
    if LONE_SURROGATE_ESCAPE.search(line):
        record = json.loads(valid_text(json.dumps(record, ensure_ascii=False)))
    if not isinstance(record, dict):
        return {}, MALFORMED_RECORD, f"expected a JSON object, got {type(record).__name__}"
    value = record.get(text_column)
    if value is None:
        keys = ", ".join(map(str, record)) or "nothing"
        why = f"{text_column!r} is null" if text_column in record else f"no key {text_column!r} (it has: {_cut(keys)})"
        return record, MISSING_TEXT, why
    if isinstance(value, (dict, list)):
        return record, MALFORMED_RECORD, f"{text_column!r} holds a JSON {'object' if isinstance(value, dict) else 'array'}, not text"
    return record, "", ""


def valid_text(text: str) -> str:
    """``text`` with lone UTF-16 surrogates (half a pair, which JSON escapes and command-line
    arguments with invalid bytes can hold) replaced by U+FFFD: no tokenizer accepts them
    and no UTF-8 file can hold them."""
    return LONE_SURROGATE.sub("\ufffd", text)


def _records_frame(records, statuses, text_column):
    """Other fields keep their JSON types; the text field becomes text (a number its
    digits, never a TypeError later); a record that could not be read has an empty text."""
    if not records:
        return pd.DataFrame({text_column: pd.Series(dtype=object)})
    frame = pd.DataFrame(records, dtype=object)  # object: an int some record lacks stays an int
    frame[text_column] = pd.Series([_as_text(record.get(text_column)) if not status else ""
                                    for record, status in zip(records, statuses)], dtype=object)
    if any(statuses):
        frame[READ_STATUS] = pd.Series(statuses, dtype=object)
    return frame


def _as_text(value):
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _read_text(source, text_column, chunk_rows, unreadable):
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
        raise DataError(f"{source.name}: no column {column!r} (the file has: {_cut(shown, 200)}); name the column that "
                        f"holds the comments", parameter="text_column")


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
    """The first row of a labeled file (None when it has none, or when it is a FIFO,
    which can be read only once), read as the config's DataConfig says: reading it
    checks the format, the start's encoding and the text column."""
    if Path(path).is_fifo():
        return None
    source = open_source(path, format=data_config.format, encoding=data_config.encoding,
                         text_column=data_config.text_column, errors=data_config.encoding_errors)
    return next(iter_chunks(source, data_config.text_column, chunk_rows=1), None)


def drop_unusable_rows(frame: pd.DataFrame, text_column: str, label_column: str,
                       source: str) -> tuple[pd.DataFrame, dict[str, int]]:
    """Training rows need text and a label; return the kept rows and what was dropped
    (rows that could not be read are counted as ``unreadable``, and the reader warned of them)."""
    frame, read_status = split_read_status(frame)
    require_label_column(frame.columns, label_column, source)
    texts = frame[text_column].astype(str)
    labels = frame[label_column].astype(str).map(str.strip)
    unreadable = pd.Series(read_status != "", index=frame.index)
    empty_text = (texts.str.strip() == "") & ~unreadable
    missing_label = labels.isin(["", "nan", "NaN", "None", "null"]) & ~empty_text & ~unreadable
    kept = frame[~empty_text & ~missing_label & ~unreadable].reset_index(drop=True)
    return kept, {"empty_text": int(empty_text.sum()), "missing_label": int(missing_label.sum()),
                  "unreadable": int(unreadable.sum())}


def load_labeled(spec: str, data_config: Any) -> tuple[pd.DataFrame, dict[str, int], str]:
    """Read a labeled file named in the config; rows without text or label are dropped.

    ``data_config`` is the config's DataConfig. Returns (frame, dropped counts, the file's name).
    """
    source = open_source(resolve_data_path(spec), format=data_config.format, encoding=data_config.encoding,
                         text_column=data_config.text_column, errors=data_config.encoding_errors)
    frame = read_comments(source, data_config.text_column)
    frame, dropped = drop_unusable_rows(frame, data_config.text_column, data_config.label_column, source.name)
    return frame, dropped, source.name
