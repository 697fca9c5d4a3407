"""The TensorFlow formats: a SavedModel for TF Serving and a LiteRT (TensorFlow Lite)
flatbuffer. Both trace the Keras model itself, so masking is TensorFlow's own.

Each takes ``token_ids`` (batch, steps) int32, front-padded, and returns
``probabilities`` (batch, classes) float32, like the ONNX export.
"""

from pathlib import Path
from typing import Any

from app.export.onnx_graph import INPUT, OUTPUT


def probability_function(model: Any, batch: int | None = None) -> Any:
    """A tf.function: token ids (``batch``, steps) -> {"probabilities": (batch, classes)};
    ``batch`` None: any batch size."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([batch, None], tf.int32, name=INPUT)])
    def serve(token_ids: Any) -> dict:
        scores = model(token_ids, training=False)
        if scores.shape[-1] == 1:  # sigmoid p -> [1 - p, p]
            scores = tf.concat([1.0 - scores, scores], axis=-1)
        return {OUTPUT: scores}

    return serve


def write_saved_model(model: Any, directory: Path) -> None:
    """A SavedModel in ``directory`` whose ``serving_default`` signature gives the probabilities
    of (batch, steps) token ids, any batch and steps."""
    from keras.export import ExportArchive  # tracks every variable, dropout's seed state included

    archive = ExportArchive()
    archive.track(model)
    serve = probability_function(model)
    archive.add_endpoint("serving_default", serve.python_function, input_signature=serve.input_signature)
    archive.write_out(str(directory), verbose=False)


def write_litert(model: Any, model_config: Any, path: Path) -> None:
    """A LiteRT flatbuffer of ``model`` (built from ``model_config``, a ModelConfig) at
    ``path``: one comment a call, (1, steps), any steps.

    One comment: LiteRT lowers the recurrent loop's state list only with a static
    shape, and its batch is part of that shape (a phone classifies one comment at a
    time). The weights are frozen into constants first: LiteRT cannot read a variable
    inside the loop (READ_VARIABLE fails in WHILE), and TensorFlow's public converter
    paths leave them variables. The loop stays a loop, so the mask is honoured. The
    model is rebuilt without dropout first: a recurrent layer with dropout advances its
    random state even when predicting, and a state that changes cannot be frozen.
    """
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    serve = probability_function(_without_dropout(model, model_config), batch=1).get_concrete_function()
    frozen = convert_variables_to_constants_v2(serve, lower_control_flow=False)
    path.write_bytes(tf.lite.TFLiteConverter.from_concrete_functions([frozen]).convert())


def _without_dropout(model: Any, model_config: Any) -> Any:
    """The same network and weights with every dropout rate 0 (dropout does nothing when predicting)."""
    import dataclasses

    from app.modeling.network import build_model, output_classes

    rates = {name: 0.0 for name in ("dropout", "recurrent_dropout", "embedding_dropout", "head_dropout")}
    copy = build_model(dataclasses.replace(model_config, **rates), model.get_layer("embedding").input_dim,
                       output_classes(model))
    copy.set_weights(model.get_weights())
    return copy
