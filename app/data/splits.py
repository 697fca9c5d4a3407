"""Stratified splits: the test set held out of a file, and the validation part of training."""

import math

import numpy as np
from sklearn.model_selection import train_test_split


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> list[np.ndarray]:
    """Indices [kept, held_out] with each class in the same proportion in both
    (unstratified when a class is too rare to be in both)."""
    indices = np.arange(len(labels))
    counts = np.bincount(labels)
    held_out_size = math.ceil(len(labels) * fraction)
    stratify = labels if counts[counts > 0].min() >= 2 and held_out_size >= len(counts) else None
    return train_test_split(indices, test_size=fraction, random_state=seed, stratify=stratify)
