"""Scoring a Spark DataFrame's comments with a shipped run, in ``mapInPandas``.

    shipped = ship_model(spark, "models/<run>")
    scored = score(frame, shipped, text_column="document")

``scored`` has every column of ``frame`` (an ``id`` column first where it has none:
Spark keeps no row order) and predict.py's columns, computed by the same function
(``app.inference.classifier.with_predictions``): label, confidence, p_<class>,
status. As predict.py does with JSON Lines: a null comment has status
missing_text, a line Spark could not parse (its ``_corrupt_record``) malformed_record,
and a number or a boolean is scored as its text.

Each Python worker process loads the Classifier once and keeps it for every batch
of every task it runs (Spark reuses its Python workers: spark.python.worker.reuse);
while the model scores one batch, the next is tokenized (``predict_chunks``).
"""

import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from app.errors import BundleError, DataError
from app.inference.classifier import RUNTIMES, Classifier, output_columns, with_predictions
from app.spark.model_archive import ShippedModel, locate_model

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame

SCORED_TEXT = "__kosent_text"  # the comment as text, where the text column holds numbers or booleans
READ_STATUS = "__kosent_read_status"  # why a record could not be read ("" if it could), as predict.py's readers say
CORRUPT_RECORD = "_corrupt_record"  # where Spark's JSON reader keeps a line it could not parse
MISSING_TEXT, MALFORMED_RECORD = "missing_text", "malformed_record"


@dataclass(frozen=True)
class ScoringSettings:
    """What a worker needs to load the Classifier; the key of its per-process cache."""

    archive: str  # the model archive's name in SparkFiles
    bundle_sha256: str  # the run's bundle.json as the driver checked it
    runtime: str  # keras or onnx
    batch_size: int | None  # comments per model call (None: the Classifier's default for the runtime)
    threads: int  # threads per model call


def score(frame: "DataFrame", shipped: ShippedModel, text_column: str, runtime: str | None = None,
          batch_size: int | None = None, threads: int = 1, id_column: str = "id") -> "DataFrame":
    """``frame`` plus predict.py's prediction columns, scored lazily by Spark (see the
    module docstring). ``runtime`` defaults to onnx when the run has an ONNX export,
    keras otherwise. Raises DataError for a missing or unusable text column."""
    from pyspark.sql import functions, types

    if text_column not in frame.columns:
        raise DataError(f"no column {text_column!r} (the input has: {', '.join(frame.columns) or 'no columns'}); "
                        f"name the column that holds the comments", parameter="text_column")
    runtime = resolve_runtime(shipped, runtime)
    text_type = frame.schema[text_column].dataType
    scored_column = text_column
    if not isinstance(text_type, types.StringType):
        if isinstance(text_type, (types.BinaryType, types.ArrayType, types.MapType, types.StructType)):
            raise DataError(f"column {text_column!r} holds {text_type.simpleString()}, not comments; expected text "
                            f"(a string column, or numbers scored as their digits)", parameter="text_column")
        frame = frame.withColumn(SCORED_TEXT, frame[text_column].cast("string"))
        scored_column = SCORED_TEXT
    unread = functions.when(frame[text_column].isNull(), MISSING_TEXT)
    if CORRUPT_RECORD in frame.columns:
        unread = functions.when(frame[CORRUPT_RECORD].isNotNull(), MALFORMED_RECORD).otherwise(unread)
    frame = frame.withColumn(READ_STATUS, functions.coalesce(unread, functions.lit("")))
    if id_column not in frame.columns:
        frame = frame.select(functions.monotonically_increasing_id().alias(id_column), "*")
    kept = [field for field in frame.schema.fields if field.name not in (SCORED_TEXT, READ_STATUS)]
    label, confidence, *probabilities, status = output_columns([field.name for field in kept], list(shipped.labels))
    schema = types.StructType([
        *kept,
        types.StructField(label, types.StringType()),
        *(types.StructField(column, types.DoubleType()) for column in (confidence, *probabilities)),
        types.StructField(status, types.StringType()),
    ])
    settings = ScoringSettings(shipped.name, shipped.bundle_sha256, runtime, batch_size, threads)
    return frame.mapInPandas(functools.partial(score_batches, settings, scored_column), schema)


def resolve_runtime(shipped: ShippedModel, runtime: str | None) -> str:
    """``runtime``, checked; by default onnx where the run has an ONNX export (no
    TensorFlow on the workers), keras otherwise."""
    runtime = runtime or ("onnx" if shipped.has_onnx_export else "keras")
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, not {runtime!r}")
    if runtime == "onnx" and not shipped.has_onnx_export:
        raise BundleError("the run has no ONNX export for runtime onnx "
                          "(python -m app.export --model <run> --format onnx)", parameter="runtime")
    return runtime


def score_batches(settings: ScoringSettings, text_column: str, batches: Iterator["pd.DataFrame"]) -> Iterator["pd.DataFrame"]:
    """Each batch plus its prediction columns, in order (runs in a Python worker)."""
    classifier = worker_classifier(settings)
    for chunk, probabilities, status in classifier.predict_chunks(batches, text_column):
        read_status = chunk.pop(READ_STATUS).to_numpy(dtype=object)
        status = np.where(read_status != "", read_status, status)  # its text is null: no prediction either way
        yield with_predictions(chunk.drop(columns=[SCORED_TEXT], errors="ignore"), classifier.labels, probabilities, status)


_loaded: dict[ScoringSettings, Classifier] = {}  # this process's Classifiers


def worker_classifier(settings: ScoringSettings) -> Classifier:
    """This process's Classifier for ``settings``, loaded from the unpacked archive the
    first time and kept for every later batch and task."""
    if settings not in _loaded:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # runtime keras: no TensorFlow start-up lines per worker
        path = locate_model(settings.archive, settings.bundle_sha256)
        # one tokenizer process: Spark runs one task per core already
        _loaded[settings] = Classifier.load(path, batch_size=settings.batch_size, workers=1, runtime=settings.runtime,
                                            threads=settings.threads)
    return _loaded[settings]
