"""kosent: Korean comment sentiment with recurrent networks.

    from app import Classifier, load_config, train

    clf = Classifier.load("models/<run>")
    clf.predict(["배우들 연기가 정말 좋았어요", ""])
    run = train(load_config("configs/quick.yaml"))

The package, one subpackage per concern; each imports only those below it
(CONTRIBUTING.md draws it, import-linter checks it):

    cli          train.py, predict.py and python -m app.cli.explain: arguments in, exit codes out
    serving      serve.py's HTTP service: the API, micro-batching, limits, the web page
    tuning       train.py --tune: an Optuna study over a config's search section, resumable
    comparison   several models on one test set: scores, significance, the report
    training     train(config): prepare the data, fit with checkpoints, pretrain, distil
    inference    Classifier: a saved run loaded once, comments in, predictions out
    export       ONNX, SavedModel and LiteRT exports; scoring with onnxruntime, without TensorFlow
    interpret    gate traces, word attributions, gradients through time
    reporting    tables, plots, the HTML report
    artifacts    SavedRun: the run directory, saved and loaded
    config       the typed schema and YAML loading
    modeling     cells, poolings and optimizers (registries), layers, the model, parameter formulas
    text         tokenizer backends (registry), the tokenizer, the vocabulary
    data         readers and writers of comment files, labels, NSMC
    evaluation   metrics and significance
    files, paths, logs, registry, errors   the base every layer may use

Importing the package is cheap: TensorFlow loads only when a model is built,
trained or loaded.
"""

from typing import TYPE_CHECKING

from app.config import Config, load_config
from app.errors import (
    BundleError,
    ConfigError,
    DataError,
    InputError,
    TrainingDiverged,
    TrainingFailed,
)

if TYPE_CHECKING:
    from app.artifacts.run import SavedRun
    from app.inference.classifier import Classifier, Prediction
    from app.training.run import train

__all__ = ["BundleError", "Classifier", "Config", "ConfigError", "DataError", "InputError", "Prediction",
           "SavedRun", "TrainingDiverged", "TrainingFailed", "load_config", "train"]

_LAZY = {  # name -> the module that defines it, imported on first use (it brings pandas and more)
    "Classifier": "app.inference.classifier",
    "Prediction": "app.inference.classifier",
    "SavedRun": "app.artifacts.run",
    "train": "app.training.run",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'app' has no attribute {name!r}")
