"""A saved run: one directory holding everything predict needs, and nothing executable.

    models/<run>/
      model.keras      Keras model (weights + architecture), loaded with safe_mode
      config.yaml      the resolved config the run was trained with
      tokenizer.json   tokenizer settings: predict tokenizes exactly as training did
      vocab.txt        one token a line; the line number is the id
      labels.json      label values as in the data, and the names predict prints
      metrics.json     test metrics (accuracy, macro_f1, params, ...)
      params.json      the per-layer parameter table
      history.csv      loss and accuracy per epoch, grad_norm, learning_rate
      bundle.json      format version, SHA-256 of model.keras, library versions

A run is written to a hidden temporary directory next to its final place and renamed
only when complete, so an interrupted save never leaves a half-written model.
"""

import csv
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from app.config import config_from_dict
from app.data import LabelSet
from app.errors import BundleError, ConfigError, one_line
from app.tokenizer import Tokenizer
from app.vocab import Vocabulary

FORMAT_VERSION = 1
RUN_NAME = re.compile(r"[\w-][\w.-]*")
REQUIRED_FILES = ["bundle.json", "model.keras", "config.yaml", "tokenizer.json", "vocab.txt", "labels.json"]


@dataclass
class Bundle:
    path: Path
    model: object
    config: object
    tokenizer: Tokenizer
    vocab: Vocabulary
    labels: LabelSet
    metrics: dict


def save_bundle(models_dir, name, *, model, config, tokenizer, vocab, labels, metrics, params, history, plots=None):
    """Write a run atomically under ``models_dir`` and return its final path.

    The run is called ``name``, or ``name-2``, ``name-3``... if that is taken, so two
    trainings never write into the same directory.
    """
    import keras

    staging = make_staging(models_dir, name)
    try:
        model.save(staging / "model.keras")
        (staging / "config.yaml").write_text(yaml.safe_dump(config.to_dict(), allow_unicode=True, sort_keys=False), encoding="utf-8")
        _write_json(staging / "tokenizer.json", tokenizer.settings())
        vocab.save(staging / "vocab.txt")
        _write_json(staging / "labels.json", labels.to_json())
        _write_json(staging / "metrics.json", metrics)
        _write_json(staging / "params.json", params)
        _write_history(staging / "history.csv", history)
        for draw in plots or []:
            draw(staging)
        _write_json(staging / "bundle.json", {
            "format_version": FORMAT_VERSION,
            "model_sha256": _sha256(staging / "model.keras"),
            "keras_version": keras.__version__,
        })
        return publish(staging, models_dir, name)
    except BaseException:  # Ctrl-C included: nothing half-written stays behind
        shutil.rmtree(staging, ignore_errors=True)
        raise


def make_staging(models_dir, name):
    """A hidden, empty directory under ``models_dir`` to write a run (or comparison) into."""
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".partial", dir=models_dir))


def publish(staging, models_dir, name):
    """Rename a complete staging directory to ``models_dir``/``name`` (or name-2, ...)."""
    models_dir = Path(models_dir)
    for attempt in range(1, 1000):
        final = models_dir / (name if attempt == 1 else f"{name}-{attempt}")
        if final.exists():
            continue
        try:
            os.rename(staging, final)  # atomic; fails if another run took the name meanwhile
            return final
        except OSError:
            continue
    raise BundleError(f"{models_dir}: could not find a free run name for {name}")


def load_bundle(path, workers=0):
    """Load and check a run directory; every problem is a BundleError naming the file."""
    path = Path(path)
    if not path.is_dir():
        raise BundleError(f"{path}: not a model directory (expected a run under models/ made by train.py)")
    missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
    if missing:
        raise BundleError(f"{path}: not a complete model directory; missing {', '.join(missing)}")
    info = _read_json(path / "bundle.json")
    if info.get("format_version") != FORMAT_VERSION:
        raise BundleError(f"{path / 'bundle.json'}: format_version {info.get('format_version')!r} is not supported (expected {FORMAT_VERSION}); retrain with this version")
    if _sha256(path / "model.keras") != info.get("model_sha256"):
        raise BundleError(f"{path / 'model.keras'}: SHA-256 does not match bundle.json; the file was changed or damaged")
    config = read_config(path)
    settings = _read_json(path / "tokenizer.json")
    try:
        tokenizer = Tokenizer(settings["backend"], settings["stem"], settings["norm"], workers=workers, cache=False)
    except (KeyError, TypeError, ValueError) as error:
        raise BundleError(f"{path / 'tokenizer.json'}: invalid tokenizer settings ({error})") from None
    if settings.get("library") != tokenizer.settings()["library"]:
        print(f"warning: {path} was trained with {settings.get('library')}, this machine has "
              f"{tokenizer.settings()['library']}; tokens may differ slightly", file=sys.stderr)
    try:
        vocab = Vocabulary.load(path / "vocab.txt")
        labels = LabelSet.from_json(_read_json(path / "labels.json"))
    except (ValueError, KeyError, UnicodeDecodeError) as error:
        raise BundleError(f"{path}: vocab.txt or labels.json is damaged ({error})") from None
    # Only now: a wrong path or a damaged file is reported without loading TensorFlow.
    # app.models registers the custom layers (masked max pooling) safe_mode may load.
    import keras

    from app.models import output_classes

    try:
        model = keras.saving.load_model(path / "model.keras", compile=False, safe_mode=True)
    except Exception as error:  # Keras raises many types for a bad archive
        raise BundleError(f"{path / 'model.keras'}: cannot be loaded safely ({one_line(error)[:300]})") from None
    _check_consistent(path, model, vocab, labels, output_classes(model))
    metrics = _read_json(path / "metrics.json") if (path / "metrics.json").is_file() else {}
    return Bundle(path, model, config, tokenizer, vocab, labels, metrics)


def read_config(path):
    """The run's config.yaml, validated against the schema (cheap: no TensorFlow)."""
    path = Path(path)
    try:
        raw = yaml.safe_load((path / "config.yaml").read_text(encoding="utf-8"))
    except OSError:
        raise BundleError(f"{path}: not a complete model directory; missing config.yaml") from None
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise BundleError(f"{path / 'config.yaml'}: not readable YAML ({type(error).__name__})") from None
    try:
        return config_from_dict(raw, source=str(path / "config.yaml"))
    except ConfigError as error:
        raise BundleError(str(error)) from None


def read_labels(path):
    """The run's labels.json as a LabelSet (cheap: no TensorFlow)."""
    path = Path(path) / "labels.json"
    if not path.is_file():
        raise BundleError(f"{path.parent}: not a complete model directory; missing labels.json")
    try:
        return LabelSet.from_json(_read_json(path))
    except (KeyError, TypeError) as error:
        raise BundleError(f"{path}: labels.json is damaged (missing {error})") from None


def check_run_name(name):
    """A run name is one plain directory name: checked before training, not after."""
    if not RUN_NAME.fullmatch(name):
        raise BundleError(f"run name {name!r} must be letters, digits, '-', '_' or '.', not starting with '.'")
    return name


def _check_consistent(path, model, vocab, labels, classes):
    embedding = model.get_layer("embedding") if any(l.name == "embedding" for l in model.layers) else None
    if embedding is None or embedding.input_dim != len(vocab):
        size = embedding.input_dim if embedding else "no embedding layer"
        raise BundleError(f"{path}: vocab.txt has {len(vocab)} tokens but the model's embedding expects {size}")
    if classes != len(labels.names):
        raise BundleError(f"{path}: labels.json has {len(labels.names)} classes but the model outputs {classes}")


def _write_json(path, data):
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _read_json(path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BundleError(f"{path}: not valid JSON ({error})") from None


def _write_history(path, history):
    keys = list(history)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["epoch", *keys])
        for epoch, values in enumerate(zip(*(history[k] for k in keys)), start=1):
            writer.writerow([epoch, *(f"{v:.6g}" for v in values)])  # small gradient norms keep their digits


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
