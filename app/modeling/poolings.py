"""How the recurrent states become one vector for the classifier head: one registry
entry a pooling. ``last`` keeps the final state; the others pool over every real
(unmasked) step. Keras is imported only when a model is built."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.registry import Registry


@dataclass(frozen=True)
class Pooling:
    """One pooling model.pooling accepts: its name, what it does, and how it is built."""

    name: str  # the value of model.pooling
    description: str
    build: Callable[[Any], Any] | None  # states (batch, steps, features) -> (batch, features); None: the last state


POOLINGS: Registry[Pooling] = Registry("pooling")


def _max(x):
    from app.modeling.layers import MaskedGlobalMaxPooling1D

    return MaskedGlobalMaxPooling1D(name="max_pool")(x)


def _mean(x):
    from app.modeling.layers import MaskedGlobalAveragePooling1D

    return MaskedGlobalAveragePooling1D(name="mean_pool")(x)


def _max_mean(x):
    from keras import layers

    return layers.Concatenate(name="max_mean_pool")([_max(x), _mean(x)])


POOLINGS.register(Pooling("last", "the last layer's final state", None))
POOLINGS.register(Pooling("max", "the largest value of each feature over the real steps", _max))
POOLINGS.register(Pooling("mean", "the mean of each feature over the real steps", _mean))
POOLINGS.register(Pooling("max_mean", "max and mean side by side (twice the features)", _max_mean))
