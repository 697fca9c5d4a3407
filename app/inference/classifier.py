"""The Classifier: a saved run loaded once, comments in, predictions out, with the
same tokenizer and vocabulary as training.

    clf = Classifier.load("models/<run>")
    clf.predict(["배우들 연기가 정말 좋았어요", ""])   # [Prediction(label='positive', ...), Prediction(status='empty')]
    clf.predict_frame(frame, text_column="document")  # the frame plus label, confidence, p_<class>, status
    clf.explain("그런데 생산직은 좋겠죠")                # word attributions and the gate trace

Every input row gets an output row, in order. A row whose comment is empty (or only
spaces), or whose tokens are all unknown to the vocabulary, gets no label: the model
would only return its constant score for an all-padding input. Its ``status`` says why:

    ok                a prediction
    empty             the comment is empty or whitespace only
    no_known_tokens   no token of the comment is in the vocabulary
    missing_text      (files) the record has no text field, or it is null
    malformed_record  (files) the line is not a JSON object, or the row has more
                      fields than the header (app.data.readers)

Scoring runs on one of two runtimes: ``keras`` (the default: the saved model.keras)
or ``onnx`` (the run's export/model.onnx in onnxruntime, written by
``python -m app.export --format onnx``; TensorFlow is never imported). Both give the
same probabilities within 1e-5 (tests/test_export.py), unless the export was made
with ``--quantize int8`` (within a few hundredths); ``explain`` needs Keras.

A Classifier may be called from several threads at once; it pickles as its path, so
a worker process rebuilds it with ``Classifier.load``; ``close()`` (or ``with``)
stops its tokenizer and scoring worker processes.
"""

import collections
import dataclasses
import itertools
import os
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from app.artifacts.run import SavedRun
from app.data.readers import split_read_status
from app.errors import BundleError, DataError
from app.text.tokenizer import PARALLEL_MIN, exit_with_parent, worker_context

if TYPE_CHECKING:
    from app.export.onnx_runtime import OnnxModel
    from app.interpret.attribution import Explanation

OK, EMPTY, NO_KNOWN_TOKENS = "ok", "empty", "no_known_tokens"
RUNTIMES = ("keras", "onnx")
# Comments per model call when the caller gives none. onnxruntime's fused LSTM keeps a
# batch of 128 in the cache: for 30,000 NSMC reviews it took 1.43 s of CPU against 1.90 s
# at 1,024 (measured with the default LSTM, one thread); TensorFlow pays per call instead.
BATCH_SIZES = {"keras": 1024, "onnx": 128}
# predict_chunks scores a file this many rows at a time, tokenizing the next rows
# meanwhile: small, so that little of the work waits alone at the start and the end
PIPELINE_ROWS = 10_000
# With the onnx runtime a file of PARALLEL_MIN rows or more is scored in worker
# processes instead, each tokenizing and scoring parts of this many rows on one
# thread: only texts and probabilities cross between processes, and no core waits
# for another (Keras stays in one process: a TensorFlow per worker costs a gigabyte).
WORKER_PART_ROWS = 2000


@dataclass(frozen=True)
class Prediction:
    """One comment's prediction; label, confidence and probabilities are None unless status is ok."""

    label: str | None
    confidence: float | None
    probabilities: dict[str, float] | None  # class name -> probability
    status: str  # ok, empty or no_known_tokens (files also: missing_text, malformed_record)


class Classifier:
    """A saved run ready to classify comments (see the module docstring)."""

    def __init__(self, run: SavedRun, batch_size: int | None = None, workers: int = 0, runtime: str = "keras",
                 exported: "OnnxModel | None" = None, threads: int = 0) -> None:
        batch_size = batch_size or BATCH_SIZES[runtime]
        self.run, self.batch_size, self.workers, self.runtime, self.threads = run, batch_size, workers, runtime, threads
        self.exported = exported  # the ONNX model when runtime is onnx
        self._model_lock = threading.Lock()  # Keras builds its predict function on the first call
        self._worker_pool = None  # onnx: the processes that score large files (predict_chunks)

    @classmethod
    def load(cls, path: str | os.PathLike, *, batch_size: int | None = None, workers: int = 0, runtime: str = "keras",
             threads: int = 0) -> "Classifier":
        """Load a run saved by train.py (safe_mode, checksum and consistency checks).

        ``batch_size``: comments per model call (None: 1,024 for keras, 128 for onnx,
        see BATCH_SIZES). ``workers``: tokenizer processes for large inputs (0: every core). ``runtime``:
        keras (model.keras) or onnx (export/model.onnx in onnxruntime, without
        TensorFlow). ``threads``: the threads one model call may use (0: the runtime's
        default, every core); for keras it is TensorFlow's, set only if TensorFlow has
        not run yet in this process. Raises BundleError naming the file when the run is
        incomplete, damaged or unsafe, or has no ONNX export for runtime onnx.
        """
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, not {batch_size!r}")
        if runtime not in RUNTIMES:
            raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, not {runtime!r}")
        if threads < 0:
            raise ValueError(f"threads must be an integer >= 0 (0: the runtime's default), not {threads!r}")
        if runtime == "keras":
            if threads:
                _limit_tensorflow_threads(threads)
            return cls(SavedRun.load(path, workers=workers), batch_size, workers, threads=threads)
        from app.export.onnx_runtime import OnnxModel

        run = SavedRun.load(path, workers=workers, keras_model=False)
        exported = OnnxModel.load(run.path, threads)
        if exported.vocab_size != len(run.vocab) or exported.classes != len(run.labels.names):
            raise BundleError(f"{exported.path}: takes {exported.vocab_size} token ids and gives {exported.classes} classes, "
                              f"but the run has {len(run.vocab)} tokens and {len(run.labels.names)} labels (export again)")
        return cls(run, batch_size, workers, runtime, exported, threads)

    @property
    def path(self) -> Path:
        """The run directory the model was loaded from."""
        return self.run.path

    @property
    def labels(self) -> list[str]:
        """The class names, in the order of the probabilities."""
        return list(self.run.labels.names)

    def __reduce__(self) -> tuple:  # another process rebuilds it from its path, never from pickled weights
        return _load_again, (str(self.path), self.batch_size, self.workers, self.runtime, self.threads)

    def __enter__(self) -> "Classifier":
        return self

    def __exit__(self, *exception: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the tokenizer's and the scoring worker processes (started for large inputs only)."""
        self.run.tokenizer.close()
        with self._model_lock:
            pool, self._worker_pool = self._worker_pool, None
        if pool is not None:
            pool.shutdown(cancel_futures=True)

    # ------------------------------------------------------------------------- scoring

    def predict(self, texts: Iterable[str]) -> list[Prediction]:
        """One Prediction per text, in order."""
        if isinstance(texts, str):
            raise TypeError("predict takes a list of comments; for one comment, use predict([text])")
        probabilities, status = self.predict_proba(list(texts))
        names = self.labels
        predictions = []
        for row, row_status in zip(probabilities, status):
            if row_status != OK:
                predictions.append(Prediction(None, None, None, str(row_status)))
                continue
            best = int(np.argmax(row))
            predictions.append(Prediction(names[best], round(float(row[best]), 6),
                                          {name: round(float(p), 6) for name, p in zip(names, row)}, OK))
        return predictions

    def predict_proba(self, texts: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities (n x classes; NaN rows where there is no prediction), status per text)."""
        _, ids, status = self._encode_with_status(list(texts))
        return self._score(ids, status)

    def predict_frame(self, frame: pd.DataFrame, text_column: str | None = None) -> pd.DataFrame:
        """``frame`` (columns and order untouched) plus label, confidence, p_<class> and status.

        ``text_column`` defaults to the column the model was trained on (e.g. document).
        """
        column = text_column or self.run.config.data.text_column
        frame, read_status = split_read_status(frame)
        if column not in frame.columns:
            raise DataError(f"text_column {column!r} is not a column of the frame; it has: "
                            f"{', '.join(map(str, frame.columns))}")
        probabilities, status = self.predict_proba(frame[column].tolist())
        return with_predictions(frame, self.labels, *_unread(probabilities, status, read_status))

    def predict_chunks(self, chunks: Iterable[pd.DataFrame], text_column: str) -> Iterator[tuple]:
        """(chunk, probabilities, status) for each DataFrame of ``chunks``, in order,
        a chunk of more than PIPELINE_ROWS rows coming back in parts of that size; a
        row the reader could not read keeps its reading status (and the chunk loses
        the READ_STATUS column that carried it).

        The next part is read and tokenized in a background thread while the model scores
        this one: the tokenizer's worker processes and the model then share the cores
        instead of waiting for each other. With the onnx runtime and more than one
        worker, parts are WORKER_PART_ROWS long, and from PARALLEL_MIN rows on they are
        tokenized and scored in worker processes instead. Errors (a bad line in the
        input) come out here.
        """
        in_workers = self.exported is not None and self.run.tokenizer.workers > 1
        size = WORKER_PART_ROWS if in_workers else PIPELINE_ROWS
        parts = (chunk.iloc[start:start + size] for chunk in chunks
                 for start in range(0, max(len(chunk), 1), size))  # an empty chunk stays one
        if in_workers:
            ahead, rows = [], 0
            for part in parts:  # a few rows are scored here: starting the workers would cost more
                ahead.append(part)
                rows += len(part)
                if rows >= PARALLEL_MIN:
                    yield from self._predict_in_workers(itertools.chain(ahead, parts), text_column)
                    return
            parts = iter(ahead)

        def read_and_encode() -> tuple[pd.DataFrame, tuple[np.ndarray, np.ndarray]] | None:
            """The next part with its (ids, status), or None when there are no more."""
            part = next(parts, None)
            if part is None:
                return None
            part, read_status = split_read_status(part)
            _, ids, status = self._encode_with_status(part[text_column].tolist())
            return part, ids, status, read_status

        with ThreadPoolExecutor(max_workers=1) as background:
            pending = background.submit(read_and_encode)
            while (ready := pending.result()) is not None:
                pending = background.submit(read_and_encode)
                part, ids, status, read_status = ready
                yield part, *_unread(*self._score(ids, status), read_status)

    def _predict_in_workers(self, parts: Iterator[pd.DataFrame], text_column: str) -> Iterator[tuple]:
        """predict_chunks' results, each part scored in a worker process; a few parts
        per worker are in flight, so the input is never read far ahead."""
        pool = self._start_worker_pool()
        in_flight: collections.deque[tuple[pd.DataFrame, np.ndarray, Future]] = collections.deque()
        try:
            for part in parts:
                part, read_status = split_read_status(part)
                in_flight.append((part, read_status, pool.submit(_score_in_worker, part[text_column].tolist())))
                if len(in_flight) > 2 * self.run.tokenizer.workers:
                    part, read_status, scored = in_flight.popleft()
                    yield part, *_unread(*scored.result(), read_status)
            while in_flight:
                part, read_status, scored = in_flight.popleft()
                yield part, *_unread(*scored.result(), read_status)
        except BrokenProcessPool:
            with self._model_lock:  # the next call starts new workers
                if self._worker_pool is pool:
                    self._worker_pool = None
            raise BundleError(f"{self.path}: a scoring worker process failed to start or was killed "
                              f"(out of memory?); score with workers=1 to see why") from None
        finally:  # stopped early (the caller's error): the parts not begun are dropped
            for _, _, scored in in_flight:
                scored.cancel()

    def _start_worker_pool(self) -> ProcessPoolExecutor:
        with self._model_lock:  # two threads must not start two pools
            if self._worker_pool is None:
                self._worker_pool = ProcessPoolExecutor(
                    self.run.tokenizer.workers, mp_context=worker_context(), initializer=_start_worker,
                    initargs=(os.getpid(), str(self.path), self.batch_size))
            return self._worker_pool

    def encode(self, texts: list[str]) -> tuple[list[list[str]], np.ndarray]:
        """(token lists, padded id matrix) for ``texts``, exactly as the model was trained."""
        return self.run.encode(texts)

    def _encode_with_status(self, texts: list) -> tuple[list[list[str]], np.ndarray, np.ndarray]:
        """(token lists, ids, status) for ``texts``; a value that is not text is an empty comment."""
        texts = [text if isinstance(text, str) else "" for text in texts]
        tokens, ids = self.encode(texts)
        status = np.full(len(texts), OK, dtype=object)
        status[(ids > 1).sum(axis=1) == 0] = NO_KNOWN_TOKENS  # 0 = padding, 1 = unknown token
        status[[not text.strip() for text in texts]] = EMPTY
        return tokens, ids, status

    def _score(self, ids: np.ndarray, status: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        probabilities = np.full((len(ids), len(self.labels)), np.nan, dtype=np.float64)
        has_prediction = status == OK
        if self.exported is not None:  # an onnxruntime session may be called from several threads
            probabilities[has_prediction] = self.exported.probabilities(ids[has_prediction], self.batch_size)
            return probabilities, status
        from app.modeling.network import class_probabilities

        with self._model_lock:
            probabilities[has_prediction] = class_probabilities(self.run.model, ids[has_prediction], self.batch_size)
        return probabilities, status

    # ------------------------------------------------------------------------- looking inside

    def explain(self, text: str) -> "Explanation":
        """Word attributions (integrated gradients) and the first recurrent layer's gate
        trace for one comment. Raises DataError when it has nothing to explain."""
        from app.interpret.attribution import NOT_EXPLAINED

        status, explanations = self.explain_many([text])
        if 0 not in explanations:
            raise DataError(f"nothing to explain ({NOT_EXPLAINED[status[0]]})")
        return explanations[0]

    def explain_many(self, texts: list[str]) -> tuple[np.ndarray, dict[int, "Explanation"]]:
        """(status per text, {row: Explanation} for the rows whose status is ok)."""
        from app.interpret.attribution import explain_encoded, explained_class

        if self.run.model is None:
            raise BundleError(f"explaining needs the Keras model: integrated gradients and the gate trace run on "
                              f"model.keras, not on the {self.runtime} export (load with runtime='keras')", parameter="runtime")
        texts = [text if isinstance(text, str) else "" for text in texts]
        tokens, ids, status = self._encode_with_status(texts)  # tokenized once, for scores and explanations
        probabilities, _ = self._score(ids, status)
        rows = np.flatnonzero(status == OK)
        predicted = np.nan_to_num(probabilities[rows]).argmax(axis=1)
        with self._model_lock:
            found = explain_encoded(self.run.model, self.labels, self.run.config.vocab.truncate,
                                    [texts[row] for row in rows], [tokens[row] for row in rows], ids[rows], predicted,
                                    target=explained_class(self.labels))
        # numbered by their position in ``texts``
        return status, {int(row): dataclasses.replace(explanation, number=int(row) + 1)
                        for row, explanation in zip(rows, found)}


def _limit_tensorflow_threads(threads: int) -> None:
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # TensorFlow already ran in this process: its thread pools are made
        raise ValueError(f"threads={threads}: TensorFlow has already started in this process; "
                         f"its threads can only be set before its first use") from None


def _unread(probabilities: np.ndarray, status: np.ndarray, read_status: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, status) where a row the reader could not read has its reading
    status and no prediction (its text is empty, so it had none)."""
    unread = read_status != ""
    if unread.any():
        status = np.where(unread, read_status, status)
    return probabilities, status


_worker_classifier: Classifier | None = None  # in a scoring worker process


def _start_worker(parent: int, path: str, batch_size: int) -> None:
    """A scoring worker's start: the run's ONNX model on one thread, tokenizing in this process."""
    global _worker_classifier
    exit_with_parent(parent)
    _worker_classifier = Classifier.load(path, batch_size=batch_size, workers=1, runtime="onnx", threads=1)


def _score_in_worker(texts: list) -> tuple[np.ndarray, np.ndarray]:
    return _worker_classifier.predict_proba(texts)


def _load_again(path: str, batch_size: int, workers: int, runtime: str = "keras", threads: int = 0) -> Classifier:
    return Classifier.load(path, batch_size=batch_size, workers=workers, runtime=runtime, threads=threads)


# ----------------------------------------------------------------------------- output columns

def output_columns(existing: Iterable[Any], names: list[str]) -> list[str]:
    """Names of the added columns; ``predicted_`` is prefixed where the input has one."""
    wanted = ["label", "confidence", *(f"p_{name}" for name in names), "status"]
    taken, columns = set(existing), []
    for column in wanted:
        while column in taken:
            column = f"predicted_{column}"
        taken.add(column)
        columns.append(column)
    return columns


def with_predictions(frame: pd.DataFrame, names: list[str], probabilities: np.ndarray,
                     status: np.ndarray, label_words: list[str] | None = None) -> pd.DataFrame:
    """``frame`` (columns and order untouched) plus label, confidence, p_<class>, status.
    The label column holds ``label_words`` (default: the class ``names``)."""
    columns = output_columns(frame.columns, names)
    best = predicted_classes(probabilities, status)
    words = label_words or names
    added = {
        columns[0]: [words[i] if i >= 0 else None for i in best],  # null in JSON, empty in CSV
        columns[1]: np.round(probabilities.max(axis=1), 6),  # NaN where there is no prediction
    }
    for column, i in zip(columns[2:-1], range(len(names))):
        added[column] = np.round(probabilities[:, i], 6)
    added[columns[-1]] = status
    result = frame.reset_index(drop=True).copy()
    for column, values in added.items():
        result[column] = values
    return result


def predicted_classes(probabilities: np.ndarray, status: np.ndarray) -> np.ndarray:
    """Class index per row, -1 where there is no prediction."""
    return np.where(status == OK, np.nan_to_num(probabilities).argmax(axis=1), -1)
