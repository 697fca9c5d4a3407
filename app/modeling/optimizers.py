"""The optimizers train.optimizer accepts: one registry entry each. Keras is
imported only when one is made."""

from dataclasses import dataclass
from typing import Any

from app.registry import Registry


@dataclass(frozen=True)
class Optimizer:
    """One optimizer train.optimizer accepts: its config name and its Keras class."""

    name: str  # the value of train.optimizer
    keras_name: str  # the class in keras.optimizers

    def make(self, learning_rate: Any, **clipping: float) -> Any:
        """A new Keras optimizer; ``clipping`` is clipnorm and/or clipvalue."""
        import keras

        return getattr(keras.optimizers, self.keras_name)(learning_rate=learning_rate, **clipping)


OPTIMIZERS: Registry[Optimizer] = Registry("optimizer")
for _name, _keras_name in (("adam", "Adam"), ("adamw", "AdamW"), ("rmsprop", "RMSprop"), ("sgd", "SGD")):
    OPTIMIZERS.register(Optimizer(_name, _keras_name))
