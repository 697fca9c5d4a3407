"""What one running service holds: the model (loaded in the background, so the health
check answers at once), the micro-batcher, the metrics, and its drain state."""

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from app.serving.batcher import MicroBatcher
from app.serving.metrics import Metrics
from app.serving.settings import ServeSettings

if TYPE_CHECKING:
    from app.inference.classifier import Classifier, Prediction

log = logging.getLogger(__name__)


class Unavailable(Exception):
    """The service cannot answer now (loading, draining, or the model too slow): a 503."""


class Service:
    """The model behind the routes; ``load`` builds the Classifier, in a thread of its own."""

    def __init__(self, load: Callable[[], "Classifier"], settings: ServeSettings) -> None:
        self.load, self.settings, self.metrics = load, settings, Metrics()
        self.classifier: Classifier | None = None
        self.batcher: MicroBatcher | None = None
        self.load_error: str | None = None
        self.ready = threading.Event()
        self.draining = False  # set by SIGTERM: new requests get 503, those in flight finish
        self.in_flight = 0  # requests the app is working on (changed on the event loop only)

    def start(self) -> None:
        """Load the model in the background; readyz answers 200 once it can predict."""
        threading.Thread(target=self._load, name="kosent-load", daemon=True).start()

    def _load(self) -> None:
        try:
            classifier = self.load()
            classifier.predict(["준비"])  # Keras builds its predict function on the first call
        except Exception as error:  # readyz reports it; the process stays up for the health check
            log.exception("the model could not be loaded")
            self.load_error = str(error)
            return
        self.classifier = classifier
        self.batcher = MicroBatcher(classifier.predict, self.settings.max_batch, self.settings.batch_wait,
                                    on_batch=self.metrics.observe_batch)
        self.ready.set()
        log.info(f"ready: {classifier.path.name}")

    def stop(self) -> None:
        """Finish the queued batches, then stop the tokenizer's processes."""
        if self.batcher:
            self.batcher.close()
        if self.classifier:
            self.classifier.close()

    def model(self) -> "Classifier":
        """The Classifier; raises Unavailable while it is loading (or failed to)."""
        if not self.ready.is_set():
            raise Unavailable(f"the model could not be loaded: {self.load_error}" if self.load_error
                              else "the model is still loading; try again in a few seconds")
        return self.classifier

    async def predict(self, texts: list[str]) -> list["Prediction"]:
        """One Prediction per text, scored by the micro-batcher with other requests' comments."""
        self.model()
        return await self._within_timeout(asyncio.wrap_future(self.batcher.submit(texts)))

    async def in_thread(self, function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)`` in a worker thread (never on the event loop), within the request timeout."""
        return await self._within_timeout(asyncio.to_thread(function, *args))

    async def _within_timeout(self, awaitable: Any) -> Any:
        try:
            return await asyncio.wait_for(awaitable, self.settings.request_timeout)
        except TimeoutError:
            raise Unavailable(f"no answer within the request timeout ({self.settings.request_timeout:g} s); "
                              "the server is overloaded or the request too large") from None
