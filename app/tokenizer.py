"""Korean tokenizers behind one small interface, run on every core, with a disk cache.

Backends:
  mecab  python-mecab-ko morphemes (the fast default: a C++ analyzer)
  okt    konlpy's Open Korean Text morphemes, optional stemming and normalization (Java)
  kiwi   kiwipiepy morphemes
  char   characters, with one "▁" token for each run of spaces

Work is split into chunks and sent to worker processes started by a *forkserver*: a
clean process that imports only this module, so workers never inherit TensorFlow's
threads or a running Java VM from the caller.
"""

import hashlib
import json
import multiprocessing
import os
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from importlib import metadata
from itertools import repeat
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CHUNK_SIZE = 2000  # comments per task sent to a worker
PARALLEL_MIN = 4000  # below this, the pool's start-up costs more than it saves
TOKEN_SEPARATOR = "\x1f"  # cache files: one comment a line, tokens split by this
# the packages whose versions decide the tokens (for MeCab the dictionary matters most)
BACKEND_PACKAGES = {"mecab": ["python-mecab-ko", "python-mecab-ko-dic"], "okt": ["konlpy"], "kiwi": ["kiwipiepy", "kiwipiepy_model"], "char": []}


def _make_mecab(stem, norm):
    # MeCab().morphs builds a Python object per morpheme; asking the tagger for its
    # text output with one surface a line gives the same surfaces 2-3x faster. Tabs
    # and line breaks are spaces to MeCab, so a surface never holds one.
    import _mecab
    import mecab_ko_dic
    from mecab.mecab import _rcfile_option

    tagger = _mecab.Tagger([*_rcfile_option, "--dicdir", str(mecab_ko_dic.dictionary_path),
                            "--node-format=%m\n", "--unk-format=%m\n", "--eos-format="])
    return lambda texts: [tagger.parse(text).split("\n")[:-1] for text in texts]


def _make_okt(stem, norm):
    from konlpy.tag import Okt

    okt = Okt()
    return lambda texts: [okt.morphs(text, norm=norm, stem=stem) for text in texts]


def _make_kiwi(stem, norm):
    # Kiwi.tokenize on a list gives the same tokens as one call a comment, and was no
    # slower here (about 1,400-1,450 comments/s on one core either way). One analysis
    # thread: the worker processes already spread the work over the cores.
    from kiwipiepy import Kiwi

    kiwi = Kiwi(num_workers=1)
    return lambda texts: [[token.form for token in tokens] for tokens in kiwi.tokenize(texts)]


_SPACES = re.compile(r"\s+")


def _make_char(stem, norm):
    return lambda texts: [list(_SPACES.sub("▁", text.strip())) for text in texts]


BACKENDS = {"mecab": _make_mecab, "okt": _make_okt, "kiwi": _make_kiwi, "char": _make_char}

_analyzers = {}  # per process: (backend, stem, norm) -> analyze(texts) -> token lists


def _analyzer(backend, stem, norm):
    key = (backend, stem, norm)
    if key not in _analyzers:
        _analyzers[key] = BACKENDS[backend](stem, norm)
    return _analyzers[key]


def _clean(tokens):
    """Tokens never hold spaces or control characters (they are stored one per line)."""
    cleaned = (t if t.isprintable() and " " not in t else "".join(c for c in t if c.isprintable() and c != " ") for t in tokens)
    return [t for t in cleaned if t]


def _tokenize_chunk(settings, texts):
    """Token lists for one chunk; blank comments skip the analyzer and get none."""
    analyze = _analyzer(*settings)
    tokens = [[] for _ in texts]
    filled = [i for i, text in enumerate(texts) if text.strip()]
    for i, found in zip(filled, analyze([texts[i] for i in filled]), strict=True):
        tokens[i] = _clean(found)
    return tokens


class Tokenizer:
    """Splits comments into tokens exactly the same way at training and prediction time."""

    def __init__(self, backend="mecab", stem=False, norm=False, workers=0, cache=True, cache_dir=None):
        if backend not in BACKENDS:
            raise ValueError(f"unknown tokenizer backend {backend!r}; expected one of {', '.join(BACKENDS)}")
        self.backend, self.stem, self.norm = backend, stem, norm
        self.workers = workers or os.cpu_count() or 1
        self.cache = cache
        self.cache_dir = Path(cache_dir or os.environ.get("KOSENT_CACHE_DIR") or PROJECT_ROOT / ".cache" / "tokens")
        self.last_run = None  # {"comments", "seconds", "per_second", "cached", "workers"}
        self._pool = None

    @classmethod
    def from_config(cls, config, **overrides):
        return cls(config.backend, config.stem, config.norm, config.workers, config.cache, **overrides)

    def settings(self):
        """What decides the tokens: saved with a model so predict tokenizes the same way."""
        packages = BACKEND_PACKAGES[self.backend]
        return {
            "backend": self.backend,
            "stem": self.stem,
            "norm": self.norm,
            "library": ", ".join(f"{p}=={metadata.version(p)}" for p in packages) or None,
        }

    def tokenize(self, texts, progress=False):
        """Token lists for ``texts`` (empty comments give empty lists), in order."""
        texts = [text if isinstance(text, str) else "" for text in texts]
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

    def close(self):
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def _run(self, texts, progress):
        settings = (self.backend, self.stem, self.norm)
        if self.workers == 1 or len(texts) < PARALLEL_MIN:
            return _tokenize_chunk(settings, texts)
        chunks = [texts[i : i + CHUNK_SIZE] for i in range(0, len(texts), CHUNK_SIZE)]
        tokens, last_report, start = [], time.perf_counter(), time.perf_counter()
        for chunk_tokens in self._executor().map(_tokenize_chunk, repeat(settings), chunks):
            tokens.extend(chunk_tokens)
            if progress and time.perf_counter() - last_report > 5:
                last_report = time.perf_counter()
                rate = len(tokens) / (last_report - start)
                print(f"  tokenized {len(tokens):,}/{len(texts):,} comments ({rate:,.0f}/s)", file=sys.stderr, flush=True)
        return tokens

    def _executor(self):
        if self._pool is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload([__name__])
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context)
        return self._pool

    def _cache_file(self, texts):
        digest = hashlib.sha256(json.dumps(self.settings(), sort_keys=True).encode())
        for text in texts:
            digest.update(text.encode("utf-8", "surrogatepass"))
            digest.update(b"\x00")
        return self.cache_dir / f"{self.backend}-{digest.hexdigest()[:32]}.txt"


def _read_cache(path, expected_rows):
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
    except (OSError, UnicodeDecodeError):
        return None
    if len(lines) != expected_rows + 1:  # a damaged cache is ignored, never trusted
        return None
    return [line.split(TOKEN_SEPARATOR) if line else [] for line in lines[:-1]]


def _write_cache(path, tokens):
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.part")
        partial.write_text("".join(TOKEN_SEPARATOR.join(t) + "\n" for t in tokens), encoding="utf-8")
        partial.replace(path)
    except OSError as error:  # a read-only disk slows the next run, nothing more
        print(f"warning: could not write the token cache {path}: {error}", file=sys.stderr)
