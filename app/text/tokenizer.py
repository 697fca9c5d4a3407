"""Korean tokenizers behind one small interface, run on every core, with a disk cache.

Backends:
  mecab  python-mecab-ko morphemes (the fast default: a C++ analyzer)
  okt    konlpy's Open Korean Text morphemes, optional stemming and normalization (Java)
  kiwi   kiwipiepy morphemes
  char   characters, with one "▁" token for each run of spaces

Work is split into chunks and sent to worker processes started by a *forkserver*: a
clean process that imports only this module, so workers never inherit TensorFlow's
threads or a running Java VM from the caller. Each worker watches the process that
started the pool and exits when it is gone, even killed with SIGKILL: nothing else
would tell it (its parent is the forkserver, which lives as long as its workers).
"""

import hashlib
import json
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from importlib import metadata
from itertools import repeat
from pathlib import Path
from typing import Any

from app import paths
from app.errors import DataError
from app.files import write_text_atomically
from app.logs import PROGRESS
from app.text.backends import BACKENDS

log = logging.getLogger(__name__)

CHUNK_SIZE = 2000  # comments per task sent to a worker
PARALLEL_MIN = 4000  # below this, the pool's start-up costs more than it saves
MAX_COMMENT_CHARS = 20_000  # longer comments are cut (cut_long_comment): 10x NSMC's longest tokens
TOKEN_SEPARATOR = "\x1f"  # cache files: one comment a line, tokens split by this
_analyzers = {}  # per process: (backend, stem, norm) -> analyze(texts) -> token lists
# One analysis at a time in a process: a MeCab, Okt or Kiwi analyzer is not safe to call
# from several threads at once, and a Classifier serving threads shares one.
_ANALYZER_LOCK = threading.RLock()


def _analyzer(backend, stem, norm):
    key = (backend, stem, norm)
    if key not in _analyzers:
        _analyzers[key] = BACKENDS[backend].make(stem, norm)
    return _analyzers[key]


def _clean(tokens):
    """Tokens never hold spaces or control characters (they are stored one per line)."""
    joined = "".join(tokens)
    if joined.isprintable() and " " not in joined:  # nearly always: one pass in C instead of one per token
        return [t for t in tokens if t]
    cleaned = (t if t.isprintable() and " " not in t else "".join(c for c in t if c.isprintable() and c != " ") for t in tokens)
    return [t for t in cleaned if t]


def cut_long_comment(text: str) -> str:
    """A comment of more than MAX_COMMENT_CHARS keeps its first and its last half of
    that, joined by a space: an analyzer's time grows faster than the length (a 1 MB
    comment takes MeCab minutes), and whichever end vocab.truncate keeps, its tokens
    come from the part kept. Training and prediction both cut here."""
    if len(text) <= MAX_COMMENT_CHARS:
        return text
    half = MAX_COMMENT_CHARS // 2
    return f"{text[:half]} {text[-half:]}"


def _tokenize_chunk(settings, texts, offset=0):
    """Token lists for one chunk (its first comment is number ``offset + 1``); blank
    comments skip the analyzer and get none."""
    tokens = [[] for _ in texts]
    filled = [i for i, text in enumerate(texts) if text.strip()]
    with _ANALYZER_LOCK:
        found = _analyzer(*settings)([texts[i] for i in filled])
    for i, comment_tokens in zip(filled, found, strict=True):
        if comment_tokens is None:
            raise DataError(f"comment {offset + i + 1}: the {settings[0]} tokenizer returned nothing for it")
        tokens[i] = _clean(comment_tokens)
    return tokens


def _tokenize_packed(settings, texts, offset):
    """A worker's answer for one chunk: its token lists packed in one string, which
    crosses between processes several times faster than thousands of small lists."""
    return _pack(_tokenize_chunk(settings, texts, offset))


def _pack(token_lists):
    """Token lists as one string, one comment a line (the cache files hold the same)."""
    return "".join(TOKEN_SEPARATOR.join(tokens) + "\n" for tokens in token_lists)


def _unpack(packed):
    """The token lists of a ``_pack``ed string."""
    return [line.split(TOKEN_SEPARATOR) if line else [] for line in packed.split("\n")[:-1]]


class Tokenizer:
    """Splits comments into tokens exactly the same way at training and prediction time."""

    def __init__(self, backend="mecab", stem=False, norm=False, workers=0, cache=True, cache_dir=None):
        if backend not in BACKENDS:
            raise ValueError(f"unknown tokenizer backend {backend!r}; expected one of {', '.join(BACKENDS.names())}")
        self.backend, self.stem, self.norm = backend, stem, norm
        self.workers = workers or os.cpu_count() or 1
        self.cache = cache
        self.cache_dir = Path(cache_dir or paths.cache_dir())
        self.last_run = None  # {"comments", "seconds", "per_second", "cached", "workers"}
        self._pool = None

    @classmethod
    def from_config(cls, config: Any, **overrides: Any) -> "Tokenizer":
        """A Tokenizer with a TokenizerConfig's settings; ``overrides`` are other constructor arguments (cache_dir...)."""
        return cls(config.backend, config.stem, config.norm, config.workers, config.cache, **overrides)

    def settings(self) -> dict[str, Any]:
        """What decides the tokens: saved with a model so predict tokenizes the same way."""
        packages = BACKENDS[self.backend].packages
        return {
            "backend": self.backend,
            "stem": self.stem,
            "norm": self.norm,
            "library": ", ".join(f"{p}=={metadata.version(p)}" for p in packages) or None,
        }

    def tokenize(self, texts: Iterable[str], progress: bool = False) -> list[list[str]]:
        """Token lists for ``texts`` (empty comments give empty lists), in order.
        A value that is not a string counts as an empty comment."""
        texts = [text if isinstance(text, str) else "" for text in texts]
        long = sum(len(text) > MAX_COMMENT_CHARS for text in texts)
        if long:
            log.warning(f"{long:,} comment(s) longer than {MAX_COMMENT_CHARS:,} characters: each keeps its first and "
                        f"last {MAX_COMMENT_CHARS // 2:,} for the tokenizer")
            texts = [cut_long_comment(text) for text in texts]
        start = time.perf_counter()
        cache_file = self._cache_file(texts) if self.cache else None
        tokens = _read_cache(cache_file, len(texts)) if cache_file else None
        cached = tokens is not None
        if tokens is None:
            tokens = self._run(texts, progress)
            if cache_file:
                _write_cache(cache_file, tokens)
        seconds = time.perf_counter() - start
        self.last_run = {
            "comments": len(texts),
            "seconds": seconds,
            "per_second": len(texts) / seconds if seconds > 0 else float("inf"),
            "cached": cached,
            "workers": 1 if cached or len(texts) < PARALLEL_MIN else self.workers,
        }
        return tokens

    def log_last_run(self, part: str) -> None:
        """Log how the last ``tokenize`` went: comments, seconds, rate, cache or processes."""
        run = self.last_run
        how = "from the cache" if run["cached"] else f"with {self.backend} on {run['workers']} process(es)"
        log.info(f"tokenized {run['comments']:,} {part} comments in {run['seconds']:.1f}s "
                 f"({run['per_second']:,.0f} comments/s, {how})")

    def close(self) -> None:
        """Shut down the worker processes, if any were started."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def _run(self, texts, progress):
        settings = (self.backend, self.stem, self.norm)
        if self.workers == 1 or len(texts) < PARALLEL_MIN:
            return _tokenize_chunk(settings, texts)
        offsets = range(0, len(texts), CHUNK_SIZE)
        chunks = [texts[i : i + CHUNK_SIZE] for i in offsets]
        tokens, last_report, start = [], time.perf_counter(), time.perf_counter()
        for packed in self._executor().map(_tokenize_packed, repeat(settings), chunks, offsets):
            tokens.extend(_unpack(packed))
            if progress and time.perf_counter() - last_report > 5:
                last_report = time.perf_counter()
                rate = len(tokens) / (last_report - start)
                log.info(f"  tokenized {len(tokens):,}/{len(texts):,} comments ({rate:,.0f}/s)", extra=PROGRESS)
        return tokens

    def _executor(self):
        with _ANALYZER_LOCK:  # two threads must not start two pools
            return self._start_pool()

    def _start_pool(self):
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=worker_context(),
                                             initializer=exit_with_parent, initargs=(os.getpid(),))
        return self._pool

    def _cache_file(self, texts):
        digest = hashlib.sha256(json.dumps(self.settings(), sort_keys=True).encode())
        for text in texts:
            digest.update(text.encode("utf-8", "surrogatepass"))
            digest.update(b"\x00")
        return self.cache_dir / f"{self.backend}-{digest.hexdigest()[:32]}.txt"


PARENT_CHECK_SECONDS = 0.5


def worker_context() -> multiprocessing.context.BaseContext:
    """How worker processes start (the tokenizer's and the ONNX scoring ones): from a
    forkserver that imports only this module, whichever pool starts it first."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


def exit_with_parent(parent: int) -> None:
    """A pool worker's start: a thread ends the worker once ``parent`` has ended."""
    started = _process_identity(parent)
    if started is None:  # it died while this worker was being started
        os._exit(1)

    def watch() -> None:
        while _process_identity(parent) == started:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _process_identity(pid: int) -> str | None:
    """What tells process ``pid`` apart (its start time on Linux, so a reused pid is not
    taken for it); None once it has ended, a killed process not yet reaped included."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return None if fields[0] in ("Z", "X") else fields[19]
    except FileNotFoundError:
        if Path("/proc/self/stat").exists():
            return None
    except OSError:
        return None
    try:  # no /proc: whether the pid is there at all
        os.kill(pid, 0)
        return "running"
    except OSError:
        return None


def _read_cache(path, expected_rows):
    try:
        packed = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    if packed.count("\n") != expected_rows:  # a damaged cache is ignored, never trusted
        return None
    return _unpack(packed)


def _write_cache(path, tokens):
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomically(path, _pack(tokens))
    except OSError as error:  # a read-only disk slows the next run, nothing more
        log.warning(f"could not write the token cache {path}: {error}")
