"""Scoring comment files on Spark: read them, score every row, write the predictions
atomically and check that every input row came out.

    summary = score_files(spark, "models/<run>", ["comments.parquet"], "predictions.parquet")

Inputs: Parquet, CSV (a header line; RFC 4180 quotes, line breaks inside them),
TSV (a header line, no quoting, as NSMC is laid out) or JSON Lines, by extension or
``format``; files, folders or globs on any file system Spark reads. The output
(Parquet or CSV, by extension) is a folder of part files, written beside its final
place under a hidden name and renamed when complete and counted: the count of its
rows must equal the input's, or nothing is published.
"""

import time
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from app.errors import BundleError, DataError
from app.inference.classifier import EMPTY, NO_KNOWN_TOKENS, OK
from app.spark.model_archive import ship_model
from app.spark.scoring import MALFORMED_RECORD, MISSING_TEXT, resolve_runtime, score

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

INPUT_FORMATS = {".parquet": "parquet", ".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}
OUTPUT_FORMATS = {".parquet": "parquet", ".csv": "csv"}
STATUSES = (OK, EMPTY, NO_KNOWN_TOKENS, MISSING_TEXT, MALFORMED_RECORD)  # what a row's status can be
CSV_OPTIONS = {"header": True, "escape": '"', "multiLine": True}  # RFC 4180: "" is a quote; quoted line breaks stay in the field
TSV_OPTIONS = {"header": True, "sep": "\t", "quote": ""}  # no quoting: NSMC reviews hold bare quotes


class RowsLost(RuntimeError):
    """The written output does not hold as many rows as the input (nothing was published)."""


@dataclass(frozen=True)
class ScoringSummary:
    """What a scoring job did."""

    rows: int  # input rows, each one written once
    status_counts: dict[str, int]  # status -> rows
    seconds: float
    output: str
    output_format: str
    runtime: str


def score_files(spark: "SparkSession", model: str, inputs: list[str], output: str, *, format: str | None = None,
                text_column: str | None = None, id_column: str = "id", runtime: str | None = None,
                batch_size: int | None = None, rows_per_batch: int = 10_000, threads: int = 1) -> ScoringSummary:
    """Score every row of ``inputs`` with the run ``model`` and write ``output``.

    ``text_column`` defaults to the run's; an ``id_column`` is added where the input
    has none; ``rows_per_batch`` rows go to a Python worker at a time and
    ``batch_size`` comments (None: the Classifier's default for the runtime) to one
    model call with ``threads`` threads. Raises
    DataError or BundleError before any scoring when an input, the output or the run
    cannot be used, and RowsLost when the output does not hold every input row."""
    output_format = _format_of(output, OUTPUT_FORMATS, "output", "an output")
    formats = {format or _format_of(path, INPUT_FORMATS, "format", "an input") for path in inputs}
    if len(formats) > 1:
        raise DataError(f"the inputs are in different formats ({', '.join(sorted(formats))}); score them separately",
                        parameter="format")
    target = _FileSystemPath(spark, output)
    if any(target.qualified == _FileSystemPath(spark, path).qualified for path in inputs):
        raise DataError(f"{output}: output would overwrite an input; choose another output path")
    if target.exists():
        raise DataError(f"{output}: already exists; remove it or choose another output path")
    shipped = ship_model(spark, model)
    text_column = text_column or shipped.text_column
    frame = read_comments(spark, inputs, formats.pop(), text_column)
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(rows_per_batch))
    scored = score(frame, shipped, text_column, runtime, batch_size, threads, id_column)
    started = time.perf_counter()
    expected = frame.count()
    # a hidden folder beside the output (Spark reads a folder it is given even inside one; not one named .<name>)
    staging = target.sibling(f".{target.name}.partial-{spark.sparkContext.applicationId}")
    written = staging.child(target.name)
    try:
        _write(scored, written.text, output_format)
        total, status_counts = _count_by_status(_read(spark, [written.text], output_format), scored.columns[-1])
        if total != expected:
            raise RowsLost(f"{output}: the input has {expected:,} rows but {total:,} were written; nothing was published")
        written.rename_to(target)
    except BaseException as error:  # Ctrl-C, SIGTERM, a failed task: stop writing before the folder is removed
        spark.sparkContext.cancelAllJobs()
        found = _raised_on_a_worker(error)
        if found is None:
            raise
        raise found from None
    finally:
        staging.delete()  # what is left of it after a failure or an interruption
    return ScoringSummary(expected, status_counts, time.perf_counter() - started, output, output_format,
                          resolve_runtime(shipped, runtime))


def read_comments(spark: "SparkSession", inputs: list[str], format: str, text_column: str) -> "DataFrame":
    """The inputs as one DataFrame with their own columns; DataError when a file is
    missing or has no ``text_column``."""
    from pyspark.errors import AnalysisException

    try:
        frame = _read(spark, inputs, format)
    except AnalysisException as error:
        raise DataError(f"{', '.join(inputs)}: {_first_line(error)}") from None
    if text_column not in frame.columns:
        raise DataError(f"{', '.join(inputs)}: no column {text_column!r} (it has: {', '.join(frame.columns) or 'no columns'}); "
                        f"name the column that holds the comments", parameter="text_column")
    if format in ("csv", "tsv"):  # Spark reads an empty field as null: an empty comment, as predict.py reads it
        frame = frame.fillna("", subset=[text_column])
    return frame


def _raised_on_a_worker(error):
    """The library's BundleError or DataError that a Python worker raised (Spark wraps it
    in its traceback), as a one-line error of the same kind; None for anything else."""
    kinds = {"app.errors.BundleError": BundleError, "app.errors.DataError": DataError}
    for line in reversed(str(error).splitlines()):
        kind, _, message = line.partition(": ")
        if kind in kinds:
            return kinds[kind](f"on a Spark worker: {message}")
    return None


def _count_by_status(frame, status_column):
    """(rows, {status: rows}) in one pass without a shuffle (a groupBy's would be spark.sql.shuffle.partitions tasks)."""
    from pyspark.sql import functions

    status = frame[status_column]
    (counts,) = frame.agg(functions.count(functions.lit(1)).alias("rows"),
                          *(functions.count(functions.when(status == value, 1)).alias(value) for value in STATUSES)).collect()
    return counts["rows"], {value: counts[value] for value in STATUSES if counts[value]}


def _read(spark, paths, format):
    reader = spark.read
    if format == "csv":
        return reader.options(**CSV_OPTIONS).csv(paths)
    if format == "tsv":
        return reader.options(**TSV_OPTIONS).csv(paths)
    if format == "jsonl":
        return reader.json(paths)  # one object a line; an unreadable line keeps its row (_corrupt_record)
    return reader.parquet(*paths)


def _write(frame, path, format):
    if format == "csv":
        frame.write.options(**CSV_OPTIONS).csv(path)
    else:
        frame.write.parquet(path)


def _format_of(path, formats, parameter, what):
    suffix = PurePosixPath(path.rstrip("/")).suffix.lower()
    if suffix not in formats:
        raise DataError(f"{path}: cannot tell the format of {what} from {suffix or 'its name'!r}; expected "
                        f"{', '.join(formats)}", parameter=parameter)
    return formats[suffix]


def _first_line(error):
    return str(error).strip().splitlines()[0]


class _FileSystemPath:
    """A path on the file system Spark writes to (local, HDFS, S3...), through Hadoop's API."""

    def __init__(self, spark, text):
        context = spark.sparkContext
        self.spark, self.path = spark, context._jvm.org.apache.hadoop.fs.Path(text)
        self.system = self.path.getFileSystem(context._jsc.hadoopConfiguration())
        self.qualified = self.system.makeQualified(self.path).toString()
        self.text, self.name = self.qualified, self.path.getName()

    def exists(self):
        return self.system.exists(self.path)

    def sibling(self, name):
        return _FileSystemPath(self.spark, self._jvm_path(self.system.makeQualified(self.path).getParent(), name))

    def child(self, name):
        return _FileSystemPath(self.spark, self._jvm_path(self.system.makeQualified(self.path), name))

    def _jvm_path(self, parent, name):
        return self.spark.sparkContext._jvm.org.apache.hadoop.fs.Path(parent, name).toString()

    def rename_to(self, other):
        if not self.system.rename(self.path, other.path):
            raise OSError(f"could not rename {self.text} to {other.text}")

    def delete(self):
        if self.exists():
            self.system.delete(self.path, True)
