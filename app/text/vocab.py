"""The vocabulary: tokens to integer ids, padding and truncation, coverage statistics.

Id 0 is padding (masked out by the model) and id 1 stands for every token the
vocabulary does not hold (out of vocabulary, OOV).
"""

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np

PAD, OOV = "<pad>", "<oov>"


class Vocabulary:
    """Tokens and their ids: id 0 is padding, id 1 every unknown token; the rest by frequency."""

    def __init__(self, tokens):
        if tokens[:2] != [PAD, OOV]:
            raise ValueError(f"a vocabulary starts with {PAD} and {OOV}, got {tokens[:2]}")
        self.tokens = list(tokens)
        self.index = {token: i for i, token in enumerate(self.tokens)}

    def __len__(self):
        return len(self.tokens)

    @classmethod
    def fit(cls, token_lists: list[list[str]], max_size: int, min_count: int, extra: Iterable[str] = ()) -> "Vocabulary":
        """The ``max_size - 2`` most frequent tokens seen at least ``min_count`` times,
        then, while there is room, the ``extra`` tokens not among them, in their order."""
        counts = Counter(token for tokens in token_lists for token in tokens)
        kept = [t for t, n in counts.most_common(max_size - 2) if n >= min_count]
        known = set(kept)
        kept += [t for t in extra if t not in known and t not in (PAD, OOV)][:max_size - 2 - len(kept)]
        return cls([PAD, OOV] + kept)

    def encode(self, token_lists: list[list[str]], max_length: int, truncate: str = "start") -> np.ndarray:
        """An int32 matrix (comments x max_length), padded with 0 at the front.

        Front padding puts every comment's last token in the last step, where a
        recurrent layer's final state is read. ``truncate`` says which end of a
        longer comment is cut.
        """
        ids = np.zeros((len(token_lists), max_length), dtype=np.int32)
        index, oov = self.index, 1
        for row, tokens in enumerate(token_lists):
            if len(tokens) > max_length:
                tokens = tokens[-max_length:] if truncate == "start" else tokens[:max_length]
            if tokens:
                ids[row, max_length - len(tokens):] = [index.get(t, oov) for t in tokens]
        return ids

    def stats(self, token_lists: list[list[str]], max_length: int) -> dict[str, float]:
        """How much of the data the vocabulary and length cover."""
        lengths = np.array([len(tokens) for tokens in token_lists])
        total = int(lengths.sum())
        oov = sum(1 for tokens in token_lists for t in tokens if t not in self.index)
        return {
            "comments": len(token_lists),
            "covered_whole": float((lengths <= max_length).mean()) if len(lengths) else 1.0,
            "oov_rate": oov / total if total else 0.0,
            "mean_tokens": float(lengths.mean()) if len(lengths) else 0.0,
            "p95_tokens": float(np.percentile(lengths, 95)) if len(lengths) else 0.0,
        }

    def save(self, path: Path) -> None:
        """Write the tokens to ``path``, one a line; the line number is the id."""
        path.write_text("".join(token + "\n" for token in self.tokens), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> "Vocabulary":
        """The vocabulary ``save`` wrote; raises ValueError when it does not start with <pad> and <oov>."""
        return cls(path.read_text(encoding="utf-8").split("\n")[:-1])


def padded_spans(ids: np.ndarray) -> np.ndarray:
    """Per row of a front-padded id matrix, the steps from its first real token to the
    end: how far the padding can be cut without touching the comment (0: all padding)."""
    real = ids != 0
    return np.where(real.any(axis=1), ids.shape[1] - real.argmax(axis=1), 0)
