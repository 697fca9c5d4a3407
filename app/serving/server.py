"""Running the service on uvicorn, with a drain on SIGTERM (and Ctrl-C):

1. new requests get 503 and /readyz says so (a load balancer stops sending);
2. the requests in flight finish (up to the request timeout);
3. uvicorn closes its sockets and the process exits 0.

A second signal stops at once, cutting what is still in flight (the process then ends
by that signal, as uvicorn does).
"""

import logging
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import uvicorn

from app.serving.api import create_app
from app.serving.service import Service
from app.serving.settings import ServeSettings, check_binding

if TYPE_CHECKING:
    from app.inference.classifier import Classifier

log = logging.getLogger(__name__)


class DrainingServer(uvicorn.Server):
    """uvicorn's server, whose first exit signal drains the service instead of stopping it."""

    def __init__(self, config: uvicorn.Config, service: Service) -> None:
        super().__init__(config)
        self.service, self.drain_deadline = service, None

    def handle_exit(self, sig: int, frame: object) -> None:
        """The first signal starts the drain; a second one is uvicorn's own (stop now)."""
        if self.service.draining:
            self.force_exit = True  # uvicorn then waits for no connection
            super().handle_exit(sig, frame)
            return
        log.info(f"draining: {self.service.in_flight} request(s) in flight; new ones get 503")
        self.service.draining = True
        self.drain_deadline = time.monotonic() + self.service.settings.request_timeout

    async def on_tick(self, counter: int) -> bool:
        """Every 0.1 s: once drained (or past the deadline), let uvicorn shut down."""
        if self.service.draining and not self.should_exit:
            if self.service.in_flight == 0 or time.monotonic() > self.drain_deadline:
                self.should_exit = True
        return await super().on_tick(counter)


def serve(load: Callable[[], "Classifier"], settings: ServeSettings, host: str = "127.0.0.1", port: int = 8000,
          log_level: str = "info") -> None:
    """Serve ``load()``'s Classifier on ``host``:``port`` until SIGTERM or Ctrl-C has drained it.

    Raises ConfigError for a non-loopback ``host`` without an API key."""
    check_binding(host, settings.api_key)
    app = create_app(load, settings)
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False,
                            timeout_graceful_shutdown=int(settings.request_timeout) + 1,
                            server_header=False)  # no "server: uvicorn" header telling what runs here
    server = DrainingServer(config, app.state.service)
    log.info(f"serving on http://{host}:{port} (the page at /, the API at /docs); pid {os.getpid()}")
    server.run()
