"""Micro-batching: comments from concurrent requests scored in one model call.

A Keras call costs about the same for one comment as for a few dozen, so a worker
thread takes the first waiting request, gathers the others already queued (those that
arrived while the model was busy) and whatever else arrives within ``max_wait``
seconds, up to ``max_batch`` comments, scores them all at once and hands each request
its own rows. The model never runs on the server's event loop.
A request is never split: one larger than ``max_batch`` is scored alone, so
``max_batch=1`` turns gathering off (one model call per request).
"""

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass
class _Request:
    texts: list[str]
    future: Future = field(default_factory=Future)


class MicroBatcher:
    """Scores lists of comments with ``score`` (a list of texts -> one result per text)
    in a worker thread, several requests per call; ``on_batch(comments)`` is told each
    call's size (for the metrics)."""

    def __init__(self, score: Callable[[list[str]], list], max_batch: int = 256, max_wait: float = 0.0,
                 on_batch: Callable[[int], None] = lambda size: None) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be an integer >= 1, not {max_batch!r}")
        if max_wait < 0:
            raise ValueError(f"max_wait must be a number of seconds >= 0, not {max_wait!r}")
        self.score, self.max_batch, self.max_wait, self.on_batch = score, max_batch, max_wait, on_batch
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="kosent-batcher", daemon=True)
        self._thread.start()

    def submit(self, texts: list[str]) -> Future:
        """A Future of ``score``'s results for ``texts``, in order."""
        request = _Request(list(texts))
        self._queue.put(request)
        return request.future

    def close(self) -> None:
        """Score what is queued, then stop the worker thread."""
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        carried: _Request | None = None  # a request that did not fit into the last batch
        while True:
            first = carried or self._queue.get()
            if first is None:
                return
            batch, carried = self._gather(first)
            self._score(batch)

    def _gather(self, first: _Request) -> tuple[list[_Request], _Request | None]:
        """``first`` and the requests that arrive within max_wait, up to max_batch comments;
        also the request that would have overfilled the batch (or the stop signal), if any."""
        batch, size = [first], len(first.texts)
        deadline = time.monotonic() + self.max_wait
        while size < self.max_batch:
            try:
                request = self._queue.get(timeout=max(deadline - time.monotonic(), 0))
            except queue.Empty:
                break
            if request is None:
                self._queue.put(None)  # stop after this batch
                break
            if size + len(request.texts) > self.max_batch:
                return batch, request
            batch.append(request)
            size += len(request.texts)
        return batch, None

    def _score(self, batch: list[_Request]) -> None:
        batch = [request for request in batch if request.future.set_running_or_notify_cancel()]
        texts = [text for request in batch for text in request.texts]
        if not texts:
            for request in batch:
                request.future.set_result([])
            return
        try:
            results = self.score(texts)
        except Exception as error:  # handed to the requests; the worker goes on
            log.exception("scoring a batch failed")
            for request in batch:
                request.future.set_exception(error)
            return
        self.on_batch(len(texts))
        start = 0
        for request in batch:
            request.future.set_result(results[start:start + len(request.texts)])
            start += len(request.texts)
