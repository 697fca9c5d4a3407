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
      bundle.json      format version, SHA-256 of every file above, library versions; the
                       SHA-256 of each exported file (``exports``)
      export/          model.onnx, saved_model/, model.tflite (python -m app.export)

``SavedRun`` is the one type for it: ``run.save(models_dir, name)`` writes one and
``SavedRun.load(path)`` reads it back, checking everything. A run is written to a
hidden temporary directory next to its final place and renamed only when complete
(app.files.AtomicDirectory), so an interrupted save never leaves a half-written model.
"""

import csv
import dataclasses
import hashlib
import json
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from app.config import config_from_dict
from app.config.schema import Config
from app.data.readers import LabelSet
from app.errors import BundleError, ConfigError, one_line
from app.files import AtomicDirectory, write_json_atomically
from app.text.backends import BACKENDS
from app.text.tokenizer import Tokenizer
from app.text.vocab import Vocabulary

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MAX_RUN_JSON_BYTES = 16 << 20  # bundle.json, labels.json...: what train.py writes is kilobytes
MAX_RUN_NAME_BYTES = 200  # file systems hold 255; the staging prefix and a -N suffix need the rest
RUN_NAME = re.compile(r"[\w-][\w.-]*")
REQUIRED_FILES = ["bundle.json", "model.keras", "config.yaml", "tokenizer.json", "vocab.txt", "labels.json"]
VERIFIED_FILES = REQUIRED_FILES[1:]  # what prediction reads, each checked against its SHA-256 in bundle.json


@dataclass
class SavedRun:
    """Everything a trained model needs to classify comments as it did in training."""

    model: Any  # a keras.Model
    config: Config
    tokenizer: Tokenizer
    vocab: Vocabulary
    labels: LabelSet
    metrics: dict = field(default_factory=dict)  # test metrics (accuracy, macro_f1, params, ...)
    params: list = field(default_factory=list)  # the per-layer parameter table
    history: dict = field(default_factory=dict)  # metric -> one value per epoch
    path: Path | None = None  # where it is saved; None until then

    def save(self, models_dir: str | os.PathLike, name: str,
             plots: tuple[Callable[[Path], None], ...] = ()) -> "SavedRun":
        """Write the run atomically as ``models_dir/name`` and return it with its ``path`` set.

        The directory is ``name``, or ``name-2``, ``name-3``... if that is taken, so two
        trainings never write into the same one. ``plots`` draw figures into it.
        """
        import keras

        with (directory := AtomicDirectory(Path(models_dir) / name)) as staging:
            self.model.save(staging / "model.keras")
            (staging / "config.yaml").write_text(yaml.safe_dump(self.config.to_dict(), allow_unicode=True, sort_keys=False),
                                                 encoding="utf-8")
            write_json_atomically(staging / "tokenizer.json", self.tokenizer.settings())
            self.vocab.save(staging / "vocab.txt")
            write_json_atomically(staging / "labels.json", self.labels.to_json())
            write_json_atomically(staging / "metrics.json", self.metrics)
            write_json_atomically(staging / "params.json", self.params)
            _write_history(staging / "history.csv", self.history)
            for draw in plots:
                draw(staging)
            write_json_atomically(staging / "bundle.json", {
                "format_version": FORMAT_VERSION,
                "model_sha256": _sha256(staging / "model.keras"),
                "file_sha256": {name: _sha256(staging / name) for name in VERIFIED_FILES},
                "keras_version": keras.__version__,
            })
        return dataclasses.replace(self, path=directory.path)

    def encode(self, texts: list[str]) -> tuple[list[list[str]], Any]:
        """(token lists, padded id matrix) for ``texts``, exactly as the model was trained."""
        tokens = self.tokenizer.tokenize(texts)
        return tokens, self.vocab.encode(tokens, self.config.vocab.max_length, self.config.vocab.truncate)

    @classmethod
    def load(cls, path: str | os.PathLike, workers: int = 0, keras_model: bool = True) -> "SavedRun":
        """Load and check a run directory: files present, format version, the model's
        SHA-256, Keras safe_mode, vocabulary and labels matching the model.

        ``workers`` is the tokenizer's process count (0: every core). With
        ``keras_model=False`` everything but the Keras model is loaded (``model`` is
        None; with_keras_model adds it) and TensorFlow is never imported: for scoring
        with an exported model.
        Every problem is a BundleError naming the file.
        """
        path = Path(path)
        if not path.is_dir():
            raise BundleError(f"{path}: not a model directory (expected a run under models/ made by train.py)"
                              f"{_close_runs(path)}")
        missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
        if missing:
            raise BundleError(f"{path}: not a complete model directory; missing {', '.join(missing)}")
        info = _read_json(path / "bundle.json", dict)
        version = info.get("format_version")
        if version != FORMAT_VERSION:
            age = "a newer" if isinstance(version, int) and version > FORMAT_VERSION else "an older or unknown"
            raise BundleError(f"{path / 'bundle.json'}: format_version {version!r} is {age} run format than this "
                              f"version of kosent reads ({FORMAT_VERSION}); use the kosent that saved it, or retrain")
        # every file prediction reads: swapping two names in labels.json would invert every
        # prediction silently. (Runs saved before file_sha256 existed record model.keras only.)
        recorded = _mapping_of_text(path / "bundle.json", info, "file_sha256") or \
            {"model.keras": info.get("model_sha256")}
        for name in VERIFIED_FILES:
            if name in recorded and _sha256(path / name) != recorded[name]:
                raise BundleError(f"{path / name}: SHA-256 does not match bundle.json; the file was changed or damaged")
        config = read_config(path)
        settings = _tokenizer_settings(path / "tokenizer.json")
        tokenizer = Tokenizer(settings["backend"], settings["stem"], settings["norm"], workers=workers, cache=False)
        if settings["backend"] != config.tokenizer.backend:  # the vocabulary holds the other analyzer's tokens
            raise BundleError(f"{path / 'tokenizer.json'}: backend {settings['backend']!r} is not the "
                              f"{config.tokenizer.backend!r} the run's vocabulary was built with (config.yaml)")
        if settings.get("library") != tokenizer.settings()["library"]:
            log.warning(f"{path} was trained with {settings.get('library')}, this machine has "
                        f"{tokenizer.settings()['library']}; tokens may differ slightly")
        try:  # the error never quotes the file: it may be any file put in its place
            vocab = Vocabulary.load(path / "vocab.txt")
        except (ValueError, UnicodeDecodeError):
            raise BundleError(f"{path / 'vocab.txt'}: not a vocabulary saved by train.py (UTF-8, one token a line, "
                              f"starting with <pad> and <oov>)") from None
        labels = read_labels(path)
        metrics = _read_json(path / "metrics.json", dict) if (path / "metrics.json").is_file() else {}
        params = _read_json(path / "params.json", list) if (path / "params.json").is_file() else []
        history = read_history(path / "history.csv")
        run = cls(None, config, tokenizer, vocab, labels, metrics, params, history, path)
        return run.with_keras_model() if keras_model else run

    def with_keras_model(self) -> "SavedRun":
        """This loaded run with its model.keras (Keras safe_mode), checked against its
        vocabulary and labels; BundleError when it cannot be loaded or does not match."""
        # Only now: a wrong path or a damaged file is reported without loading TensorFlow.
        import keras

        from app.modeling.network import output_classes  # registers the custom layers safe_mode may load

        try:
            model = keras.saving.load_model(self.path / "model.keras", compile=False, safe_mode=True)
        except Exception as error:  # Keras raises many types for a bad archive
            raise BundleError(f"{self.path / 'model.keras'}: cannot be loaded safely ({one_line(error)[:300]})") from None
        _check_consistent(self.path, model, self.vocab, self.labels, output_classes(model))
        return dataclasses.replace(self, model=model)


def record_export(path: str | os.PathLike, format: str, files: list[Path]) -> None:
    """Record the SHA-256 of ``files`` (written by an export in ``format``) in the run's
    bundle.json, replacing that format's last record; bundle.json is replaced atomically."""
    path = Path(path)
    info = _read_json(path / "bundle.json", dict)
    _exports(path, info)
    exports = info.setdefault("exports", {})
    exports[format] = {file.relative_to(path).as_posix(): _sha256(file) for file in sorted(files)}
    write_json_atomically(path / "bundle.json", info)


def exported_files(path: str | os.PathLike, format: str) -> list[Path]:
    """The files of the run's export in ``format``, each checked against the SHA-256 that
    bundle.json records. Raises BundleError when there is none or one was changed."""
    path = Path(path)
    recorded = _exports(path, _read_json(path / "bundle.json", dict)).get(format)
    if not recorded:
        raise BundleError(f"{path}: has no {format} export recorded in bundle.json "
                          f"(python -m app.export --model {path} --format {format})")
    for name, digest in recorded.items():
        if not (path / name).is_file():
            raise BundleError(f"{path / name}: missing; bundle.json records it for the {format} export (export again)")
        if _sha256(path / name) != digest:
            raise BundleError(f"{path / name}: SHA-256 does not match bundle.json; the file was changed or damaged (export again)")
    return [path / name for name in recorded]


def _close_runs(path: Path) -> str:
    """``; did you mean ...`` naming the saved runs beside ``path`` whose names are close."""
    import difflib

    parent = path.parent if path.parent.is_dir() else None
    runs = sorted(p.name for p in parent.iterdir() if (p / "bundle.json").is_file()) if parent else []
    close = difflib.get_close_matches(path.name, runs, n=3, cutoff=0.6)
    return f"; did you mean {', '.join(str(parent / name) for name in close)}?" if close else ""


def read_config(path: str | os.PathLike) -> Config:
    """The run's config.yaml, validated against the schema (cheap: no TensorFlow)."""
    path = Path(path)
    try:
        raw = yaml.safe_load((path / "config.yaml").read_text(encoding="utf-8"))
    except OSError:
        raise BundleError(f"{path}: not a complete model directory; missing config.yaml") from None
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise BundleError(f"{path / 'config.yaml'}: not readable YAML ({type(error).__name__})") from None
    if not isinstance(raw, dict):  # an empty mapping would silently be the defaults, not this run's config
        raise BundleError(f"{path / 'config.yaml'}: must hold the run's config (a mapping of sections), not {_shape(raw)}")
    try:
        return config_from_dict(raw, source=str(path / "config.yaml"))
    except ConfigError as error:
        raise BundleError(str(error)) from None


def read_labels(path: str | os.PathLike) -> LabelSet:
    """The run's labels.json as a LabelSet (cheap: no TensorFlow)."""
    path = Path(path) / "labels.json"
    if not path.is_file():
        raise BundleError(f"{path.parent}: not a complete model directory; missing labels.json")
    data = _read_json(path, dict)
    lists = {key: data.get(key) for key in ("values", "names")}
    for key, labels in lists.items():
        if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
            raise BundleError(f"{path}: {key!r} must be a list of label strings, not {_shape(labels)}")
    if len(lists["values"]) != len(lists["names"]) or len(lists["values"]) < 2:
        raise BundleError(f"{path}: 'values' and 'names' must list the same labels, at least two "
                          f"(they have {len(lists['values'])} and {len(lists['names'])})")
    return LabelSet.from_json(data)


def check_run_name(name: str) -> str:
    """A run name is one plain directory name: checked before training, not after.

    Returns ``name`` unchanged; raises BundleError if it is not one."""
    if not RUN_NAME.fullmatch(name):
        raise BundleError(f"run name {name[:80]!r} must be letters, digits, '-', '_' or '.', not starting with '.'")
    if len(name.encode()) > MAX_RUN_NAME_BYTES:
        raise BundleError(f"run name {name[:40]!r}... is {len(name.encode())} bytes; at most {MAX_RUN_NAME_BYTES} fit "
                          f"a directory name (with room for the -2, -3... a taken name gets)")
    return name


def _check_consistent(path, model, vocab, labels, classes):
    embedding = model.get_layer("embedding") if any(layer.name == "embedding" for layer in model.layers) else None
    if embedding is None or embedding.input_dim != len(vocab):
        size = embedding.input_dim if embedding else "no embedding layer"
        raise BundleError(f"{path}: vocab.txt has {len(vocab)} tokens but the model's embedding expects {size}")
    if classes != len(labels.names):
        raise BundleError(f"{path}: labels.json has {len(labels.names)} classes but the model outputs {classes}")


def _read_json(path, expected):
    """The JSON file ``path``, which must hold an ``expected`` (dict or list); raises
    BundleError naming the file, and never quoting it, for anything else."""
    if path.stat().st_size > MAX_RUN_JSON_BYTES:
        raise BundleError(f"{path}: {path.stat().st_size:,} bytes, larger than any run file train.py writes")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        where = f" at line {error.lineno}" if isinstance(error, json.JSONDecodeError) else ""
        raise BundleError(f"{path}: not valid JSON{where}") from None
    except RecursionError:
        raise BundleError(f"{path}: not valid JSON (nested too deep)") from None
    if not isinstance(data, expected):
        raise BundleError(f"{path}: must hold a JSON {'object' if expected is dict else 'array'}, not {_shape(data)}")
    return data


def _shape(value):
    """What a JSON value is, without quoting it."""
    names = {dict: "an object", list: "an array", str: "a string", bool: "true/false", type(None): "null",
             int: "a number", float: "a number"}
    return names.get(type(value), type(value).__name__)


def _mapping_of_text(path, info, key):
    """``info[key]`` (a mapping of names to strings, or absent: {}); BundleError naming the key otherwise."""
    value = info.get(key, {})
    if not isinstance(value, dict) or not all(isinstance(item, str) for item in value.values()):
        raise BundleError(f"{path}: {key!r} must map file names to SHA-256 strings, not {_shape(value)}")
    return value


def _exports(path, info):
    """bundle.json's ``exports``: {format: {file: SHA-256}} ({} when there is none)."""
    exports = info.get("exports", {})
    if not isinstance(exports, dict) or not all(isinstance(files, dict) for files in exports.values()):
        raise BundleError(f"{path / 'bundle.json'}: 'exports' must map each format to its files' SHA-256, "
                          f"not {_shape(exports)}")
    for files in exports.values():
        _mapping_of_text(path / "bundle.json", {"exports": files}, "exports")
    return exports


def _tokenizer_settings(path):
    """tokenizer.json, checked: backend (a known name), stem and norm (true/false)."""
    settings = _read_json(path, dict)
    backend = settings.get("backend")
    if not isinstance(backend, str) or backend not in BACKENDS.names():
        shown = repr(backend[:40]) if isinstance(backend, str) else _shape(backend)
        raise BundleError(f"{path}: 'backend' must be one of {', '.join(BACKENDS.names())}, not {shown}")
    for key in ("stem", "norm"):
        if not isinstance(settings.get(key), bool):
            raise BundleError(f"{path}: {key!r} must be true or false, not {_shape(settings.get(key))}")
    return settings


def read_history(path: Path) -> dict:
    """history.csv as {metric: [value per epoch]}; empty when the run has none."""
    if not Path(path).is_file():
        return {}
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        return {key: [float(row[key]) for row in rows] for key in (rows[0] if rows else {}) if key != "epoch"}
    except (ValueError, TypeError, UnicodeDecodeError, csv.Error):  # never quoting it: it may be any file
        raise BundleError(f"{path}: not a history saved by train.py (a CSV of numbers per epoch)") from None


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
