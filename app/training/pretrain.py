"""Word vectors pretrained on unlabeled comments, to start the Embedding layer from.

A classifier trained from random embeddings learns a word only from the labeled
comments it appears in. word2vec (gensim's Word2Vec, skip-gram or CBOW) learns a
vector for every word from the company it keeps in any comment, labeled or not, so
a word seen a few times in the training data starts close to the words it is used
like. The corpus is the unlabeled file named in ``pretrain.unlabeled`` plus the
training comments (their text only; the test comments are never seen). The vectors
are then fine-tuned with the rest of the model.

The vectors are cached beside the token cache, keyed by the corpus and every
setting, so a second run on the same data skips the pretraining.
"""

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from gensim.models import Word2Vec
from gensim.models.callbacks import CallbackAny2Vec

from app.data.readers import open_source, read_comments, resolve_data_path
from app.errors import DataError
from app.files import atomic_file, write_text_atomically
from app.logs import PROGRESS

if TYPE_CHECKING:
    from app.config.schema import DataConfig, DistillConfig, PretrainConfig
    from app.text.vocab import Vocabulary

log = logging.getLogger(__name__)

NSMC_UNLABELED = "nsmc:unlabeled"  # the 443K unlabeled reviews beside NSMC (data/nsmc/ or ../shared/data/nsmc)


@dataclass
class WordVectors:
    """One vector (a row of ``matrix``) per token of ``tokens``."""

    tokens: list
    matrix: np.ndarray  # (tokens, dim) float32
    seconds: float  # how long the pretraining took (0.0 when read from the cache)

    def save(self, path: Path) -> None:
        """Plain arrays and text, read back without pickle. Each file is written under a
        temporary name and renamed, the vectors last: their file marks the cache complete,
        so an interrupted save leaves nothing that looks like one."""
        write_text_atomically(path.with_suffix(".tokens"), "".join(t + "\n" for t in self.tokens))
        with atomic_file(path.with_suffix(".npy"), binary=True) as handle:
            np.save(handle, self.matrix, allow_pickle=False)

    @classmethod
    def load(cls, path: Path) -> "WordVectors | None":
        """The vectors ``save`` wrote under ``path``; None when they are missing or damaged."""
        try:
            matrix = np.load(path.with_suffix(".npy"), allow_pickle=False)
            tokens = path.with_suffix(".tokens").read_text(encoding="utf-8").split("\n")[:-1]
        except (OSError, ValueError, UnicodeDecodeError):  # cut short, missing or not ours
            return None
        if len(tokens) != len(matrix):
            return None  # a damaged cache is ignored, never trusted
        return cls(tokens, matrix, seconds=0.0)


def read_unlabeled(section: "PretrainConfig | DistillConfig", data: "DataConfig") -> tuple[list[str], str]:
    """The comments of the unlabeled file (one a line for .txt; other formats read
    ``data.text_column``), empty ones left out, and the file's name. ``section`` is the
    config section naming the file: pretrain or distill (``unlabeled``, ``max_rows``)."""
    source = open_source(resolve_data_path(section.unlabeled), encoding=data.encoding,
                         text_column=data.text_column, errors=data.encoding_errors)
    texts = read_comments(source, data.text_column)[data.text_column].astype(str)
    texts = texts[texts.str.strip() != ""]
    if section.max_rows:
        texts = texts[:section.max_rows]
    return texts.tolist(), source.name


def read_unlabeled_if_there(section: "PretrainConfig | DistillConfig", data: "DataConfig", key: str,
                            without: str) -> tuple[list[str] | None, str | None]:
    """read_unlabeled, except that a missing ``nsmc:unlabeled`` gives a warning (saying
    what happens ``without`` it) and None: the shipped configs name it, but e9t/nsmc does
    not publish it, so a machine with only the downloaded NSMC still trains. A missing
    file of the user's own is an error. ``key`` is the section's dotted name."""
    try:
        return read_unlabeled(section, data)
    except DataError as error:
        if section.unlabeled != NSMC_UNLABELED:
            raise
        log.warning(f"{error}; {without} ({key}.unlabeled: null says so without this warning)")
        return None, None


def word_vectors(token_lists: list[list[str]], dim: int, pretrain: "PretrainConfig", seed: int, workers: int,
                 cache_dir: str | os.PathLike | None = None) -> WordVectors:
    """Vectors of ``dim`` numbers for every token seen ``pretrain.min_count`` times,
    trained with word2vec on ``token_lists``, or read from the cache."""
    settings = {"dim": dim, "method": pretrain.method, "window": pretrain.window, "min_count": pretrain.min_count,
                "epochs": pretrain.epochs, "seed": seed}
    cache_file = _cache_file(cache_dir, token_lists, settings) if cache_dir else None
    if cache_file and cache_file.with_suffix(".npy").exists():
        cached = WordVectors.load(cache_file)
        if cached is not None:
            log.info(f"pretrained vectors: {len(cached.tokens):,} tokens, read from the cache {cache_file.parent}")
            return cached
    words = sum(len(tokens) for tokens in token_lists)
    log.info(f"pretraining {dim}-dimensional {pretrain.method} word vectors on {len(token_lists):,} comments "
          f"({words:,} tokens), {pretrain.epochs} epochs on {workers} thread(s)")
    start = time.perf_counter()
    model = Word2Vec(
        sentences=token_lists, vector_size=dim, window=pretrain.window, min_count=pretrain.min_count,
        sg=1 if pretrain.method == "skipgram" else 0, epochs=pretrain.epochs, workers=workers, seed=seed,
        callbacks=[_EpochProgress(pretrain.epochs, start)],
    )
    vectors = WordVectors(list(model.wv.index_to_key), model.wv.vectors.astype(np.float32),
                          seconds=time.perf_counter() - start)
    log.info(f"pretrained vectors for {len(vectors.tokens):,} tokens in {vectors.seconds:.1f}s")
    if cache_file:
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            vectors.save(cache_file)
        except OSError as error:
            log.warning(f"could not write the vector cache {cache_file}: {error}")
    return vectors


def _cache_file(cache_dir, token_lists, settings):
    from app.text.tokenizer import TOKEN_SEPARATOR

    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for tokens in token_lists:
        digest.update(TOKEN_SEPARATOR.join(tokens).encode("utf-8", "surrogatepass") + b"\n")
    return Path(cache_dir) / f"word2vec-{digest.hexdigest()[:32]}"


class _EpochProgress(CallbackAny2Vec):
    """A line per finished epoch, so a long pretraining shows it is alive."""

    def __init__(self, epochs, start):
        self.epochs, self.start, self.done = epochs, start, 0

    def on_epoch_end(self, model: Any) -> None:
        """Log that one more epoch is done."""
        self.done += 1
        log.info(f"  word2vec epoch {self.done}/{self.epochs} done ({time.perf_counter() - self.start:.0f}s)", extra=PROGRESS)


def embedding_matrix(vectors: WordVectors, vocab: "Vocabulary", seed: int) -> tuple[np.ndarray, int]:
    """Initial Embedding weights for ``vocab``: a token's pretrained vector where it has
    one, otherwise a random one of the same scale; row 0 (padding) is zero.

    Returns the matrix and how many vocabulary tokens got a pretrained vector.
    """
    dim = vectors.matrix.shape[1]
    rng = np.random.default_rng(seed)
    matrix = rng.normal(0.0, vectors.matrix.std(), size=(len(vocab), dim)).astype(np.float32)
    matrix[0] = 0.0
    row_of = {token: row for row, token in enumerate(vectors.tokens)}
    found = [(i, row_of[token]) for i, token in enumerate(vocab.tokens) if token in row_of]
    if found:
        ids, rows = map(list, zip(*found))
        matrix[ids] = vectors.matrix[rows]
    return matrix, len(found)
