"""The service's Prometheus metrics (prometheus-client), one registry per app."""

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.015, 0.025, 0.04, 0.06, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)


class Metrics:
    """Requests by route and status, their latency, errors, and the model calls' batch sizes."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()  # not the global one: each app (and test) has its own
        self.requests = Counter("kosent_requests", "HTTP requests answered", ["route", "status"], registry=self.registry)
        self.errors = Counter("kosent_request_errors", "HTTP requests answered with a 4xx or 5xx status",
                              ["route", "status"], registry=self.registry)
        self.latency = Histogram("kosent_request_seconds", "Time from request to response", ["route"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.batch_comments = Histogram("kosent_batch_comments", "Comments per model call of the micro-batcher",
                                        buckets=BATCH_BUCKETS, registry=self.registry)
        self.comments = Counter("kosent_comments", "Comments scored by the micro-batcher", registry=self.registry)

    def observe_request(self, route: str, status: int, seconds: float) -> None:
        """Count one answered request."""
        self.requests.labels(route, str(status)).inc()
        if status >= 400:
            self.errors.labels(route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def observe_batch(self, comments: int) -> None:
        """Count one model call of ``comments`` comments."""
        self.batch_comments.observe(comments)
        self.comments.inc(comments)

    def text(self) -> bytes:
        """Everything, in Prometheus's text format."""
        return generate_latest(self.registry)
