"""The service's limits and switches, each a serve.py flag; checked once, at the door."""

import ipaddress
from dataclasses import dataclass

from app.errors import ConfigError

MiB = 1 << 20


@dataclass(frozen=True)
class ServeSettings:
    """What the service accepts and how it batches (the defaults are serve.py's)."""

    max_texts: int = 1_000  # comments in one /v1/predict request
    max_chars: int = 5_000  # characters in one comment; a longer one is refused (413), not cut
    max_body_bytes: int = 1 * MiB  # a JSON request body
    max_upload_bytes: int = 50 * MiB  # a /v1/predict/file upload, the whole multipart body
    request_timeout: float = 60.0  # seconds a request may wait for the model before a 503
    max_batch: int = 256  # comments gathered into one model call; 1 turns gathering off
    # seconds the batcher waits for more requests after the first; 0: it takes only those that queued
    # while the model was busy, so a lone request is never delayed (docs/serving.md has the measurements)
    batch_wait: float = 0.0
    api_key: str | None = None  # required on every endpoint but the health checks and the static page
    cors_origins: tuple[str, ...] = ()  # origins allowed to call the API from a browser; none by default

    def __post_init__(self) -> None:
        for name in ("max_texts", "max_chars", "max_body_bytes", "max_upload_bytes", "max_batch"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be an integer >= 1, not {value!r}", parameter=name)
        for name in ("request_timeout", "batch_wait"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value < 0 or (name == "request_timeout" and value == 0):
                raise ConfigError(f"{name} must be a number of seconds {'>' if name == 'request_timeout' else '>='} 0, "
                                  f"not {value!r}", parameter=name)
        if self.api_key is not None and len(self.api_key) < 16:
            raise ConfigError("api_key must be at least 16 characters (e.g. python -c 'import secrets; "
                              "print(secrets.token_urlsafe())')", parameter="api_key")


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the service on this machine (127.0.0.1, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def check_binding(host: str, api_key: str | None) -> None:
    """Any address but loopback needs an API key: raises ConfigError naming both."""
    if not is_loopback(host) and not api_key:
        raise ConfigError(f"host {host!r} is reachable from other machines: it needs an API key", parameter="api_key")
