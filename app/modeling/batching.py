"""Scoring padded id matrices a batch at a time, shortest comments together, with no
framework: the Keras model and an exported one are both called through it."""

from collections.abc import Callable

import numpy as np

from app.text.vocab import padded_spans


def probabilities_by_length(score: Callable[[np.ndarray], np.ndarray], ids: np.ndarray, batch_size: int,
                            outputs: int, fixed_length: bool = False) -> np.ndarray:
    """An (n, classes) array of probabilities; an output of one unit p becomes [1 - p, p].

    ``score`` maps a batch of ids to its (batch, ``outputs``) scores. Comments are
    sorted by length and scored a batch at a time, each batch's front padding cut to
    its longest comment: padding is masked, so the results are the same, and most
    comments are far shorter than max_length. ``fixed_length``: the model takes only
    the full width.
    """
    width = ids.shape[1]
    spans = np.maximum(padded_spans(ids), 1)  # an all-padding row still needs one step
    if fixed_length:
        spans[:] = width
    order = np.argsort(spans, kind="stable")
    probabilities = np.empty((len(ids), outputs), dtype=np.float32)
    for start in range(0, len(ids), batch_size):
        rows = order[start:start + batch_size]
        probabilities[rows] = score(ids[rows, width - spans[rows].max():])
    if outputs == 1:
        probabilities = np.concatenate([1 - probabilities, probabilities], axis=-1)
    return probabilities
