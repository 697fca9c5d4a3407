"""The typed configuration schema, YAML loading, ``--set`` overrides and validation.

A config is plain values in nested dataclasses. Every field carries its type (and,
where it matters, its allowed range) so one generic validator can check a whole
file before any data is read, and every error names the file, the dotted key, the
value and what is allowed, on one line.
"""

import dataclasses
import difflib
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional

import yaml

from app.errors import ConfigError, one_line


def _range(low=None, high=None, *, low_open=False, high_open=False, default):
    """A field whose numeric value must lie in an interval, e.g. [0, 1)."""
    return field(default=default, metadata={"range": (low, high, low_open, high_open)})


@dataclass
class DataConfig:
    train: str = "nsmc:train"  # a file path, or nsmc:train / nsmc:test / nsmc:train3
    test: Optional[str] = "nsmc:test"  # null: hold out `test_split` of train instead
    test_split: float = _range(0, 1, low_open=True, high_open=True, default=0.2)
    text_column: str = "document"
    label_column: str = "label"
    label_names: Optional[dict[str, str]] = None  # raw label -> name shown by predict
    format: Optional[Literal["tsv", "csv", "jsonl", "txt"]] = None  # None: by extension
    encoding: Optional[str] = None  # None: detect (UTF-8, UTF-8/16 with BOM, CP949)
    encoding_errors: Literal["strict", "replace"] = "strict"  # replace: bad bytes -> U+FFFD, counted
    max_rows: Optional[int] = _range(1, default=None)  # random subset of train, for quick runs


@dataclass
class TokenizerConfig:
    backend: Literal["mecab", "okt", "kiwi", "char"] = "mecab"
    stem: bool = False  # okt only: 좋았어요 -> 좋다
    norm: bool = False  # okt only: ㅋㅋㅋㅋㅋ -> ㅋㅋㅋ
    workers: int = _range(0, default=0)  # processes; 0 = every core
    cache: bool = True  # on-disk cache keyed by content and settings

    def problem(self):
        if self.backend != "okt" and (self.stem or self.norm):
            return f"tokenizer.stem and tokenizer.norm apply to backend okt only, not {self.backend}"
        return None


@dataclass
class VocabConfig:
    max_size: int = _range(3, default=30000)  # including <pad> and <oov>
    min_count: int = _range(1, default=2)
    max_length: int = _range(1, default=60)  # tokens per comment after padding/truncation
    truncate: Literal["start", "end"] = "start"  # which end of a long comment is cut
    add_pretrained: bool = True  # with pretrain: tokens with a vector join, even if no labeled comment has them


@dataclass
class PretrainConfig:
    """word2vec vectors learned from unlabeled comments to start the Embedding layer from (app/pretrain.py)."""

    unlabeled: Optional[str] = None  # a file of comments (.txt: one a line), or nsmc:unlabeled; null = no pretraining
    method: Literal["skipgram", "cbow"] = "skipgram"
    window: int = _range(1, default=5)  # context words on each side
    min_count: int = _range(1, default=3)  # rarer tokens get no vector
    epochs: int = _range(1, default=5)
    max_rows: Optional[int] = _range(1, default=None)  # the first N unlabeled comments, for quick runs


@dataclass
class DistillConfig:
    """Knowledge distillation (app/distill.py): a teacher (this config's model, trained first,
    averaged with a naive-Bayes n-gram logistic regression) gives its class probabilities for
    unlabeled comments, and the saved model learns from them and the labeled comments."""

    unlabeled: Optional[str] = None  # a file of comments (.txt: one a line), or nsmc:unlabeled; null = no distillation
    max_rows: Optional[int] = _range(1, default=None)  # a random N of them: shorter epochs
    epochs: int = _range(1, default=3)  # the saved model's; the teacher trains for train.epochs
    warm_start: bool = True  # the student starts from the teacher's recurrent weights; false: afresh


@dataclass
class ModelConfig:
    cell: Literal["simple_rnn", "lstm", "gru"] = "lstm"
    embedding_dim: int = _range(1, default=128)
    embedding_dropout: float = _range(0, 1, high_open=True, default=0.0)
    units: int = _range(1, default=128)
    activation: Literal["tanh", "relu"] = "tanh"  # relu: unbounded states, gradients that can explode
    layers: int = _range(1, 8, default=1)
    bidirectional: bool = False
    dropout: float = _range(0, 1, high_open=True, default=0.0)
    recurrent_dropout: float = _range(0, 1, high_open=True, default=0.0)
    pooling: Literal["last", "max", "mean", "max_mean"] = "last"
    head_units: int = _range(0, default=0)  # a hidden Dense layer before the output; 0 = none
    head_dropout: float = _range(0, 1, high_open=True, default=0.0)


@dataclass
class EarlyStoppingConfig:
    enabled: bool = True
    monitor: Literal["val_loss", "val_accuracy"] = "val_loss"
    patience: int = _range(0, default=2)


@dataclass
class TrainConfig:
    optimizer: Literal["adam", "adamw", "rmsprop", "sgd"] = "adam"
    learning_rate: float = _range(0, low_open=True, default=0.001)
    # cosine: a linear warmup from 0 over the first `warmup` fraction of all `epochs`' steps,
    # then the rate falls from learning_rate to 0 along a half cosine over the rest
    lr_schedule: Literal["constant", "cosine"] = "constant"
    warmup: float = _range(0, 1, high_open=True, default=0.0)
    clipnorm: Optional[float] = _range(0, low_open=True, default=None)
    clipvalue: Optional[float] = _range(0, low_open=True, default=None)
    batch_size: int = _range(1, default=256)
    bucket_by_length: bool = True  # batches of similar length, cut to their longest comment: ~2x faster epochs
    epochs: int = _range(1, default=10)
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)
    validation_split: float = _range(0, 1, low_open=True, high_open=True, default=0.1)
    seed: int = _range(0, default=42)

    def problem(self):
        if self.warmup and self.lr_schedule == "constant":
            return "train.warmup applies to lr_schedule cosine only, not constant"
        return None


@dataclass
class Config:
    name: Optional[str] = None  # run-name prefix; defaults to the cell name
    data: DataConfig = field(default_factory=DataConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    vocab: VocabConfig = field(default_factory=VocabConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)

    def to_dict(self):
        return dataclasses.asdict(self)


def load_config(path, overrides=()):
    """Read a YAML config, apply ``key=value`` overrides and validate the result.

    Raises ConfigError naming the file (or the ``--set``), key, value and what is allowed.
    """
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as error:  # a directory, no permission...
        raise ConfigError(f"{path}: cannot read the config ({error.strerror})") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {one_line(error)}") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: config must be UTF-8 text ({error.reason})") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections (data, model, ...), got {type(raw).__name__}")
    sources = {}
    for override in overrides:
        key, value = _parse_override(override)
        _set_dotted(raw, key, value, source=f"--set {override}")
        sources[key] = f"--set {override}"
    return config_from_dict(raw, source=str(path), sources=sources)


def config_from_dict(raw, source="<config>", sources=None):
    """Validate a nested dict (as read from YAML) into a Config."""
    return _build(Config, raw, "", source, sources or {})


def _parse_override(text):
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {text}: expected dotted.key=value, e.g. model.units=64")
    try:
        parsed = yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError:
        parsed = value
    return key.strip(), parsed


def _set_dotted(raw, key, value, source):
    """Put ``value`` at ``a.b.c`` in ``raw``, checking every part against the schema."""
    schema, node, parts = Config, raw, key.split(".")
    for depth, part in enumerate(parts):
        prefix = ".".join(parts[:depth])
        names = {f.name: f for f in dataclasses.fields(schema)}
        if part not in names:
            raise ConfigError(f"{source}: {_unknown_key(prefix, part, names)}")
        hint = typing.get_type_hints(schema)[part]
        if depth == len(parts) - 1:
            node[part] = value
            return
        if not dataclasses.is_dataclass(hint):
            raise ConfigError(f"{source}: {'.'.join(parts[:depth + 1])} is a value, not a section")
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{source}: {'.'.join(parts[:depth + 1])} must be a mapping")
        schema = hint


def _unknown_key(prefix, name, known):
    name = name if isinstance(name, str) and name.isprintable() else repr(name)  # the error stays one line
    full = f"{prefix}.{name}" if prefix else name
    close = difflib.get_close_matches(str(name), list(known), n=1)
    hint = f" (did you mean {prefix + '.' if prefix else ''}{close[0]}?)" if close else f" (known: {', '.join(known)})"
    return f"{full} is not a known key{hint}"


def _build(schema, raw, prefix, source, sources):
    where = lambda key: sources.get(key, source)  # noqa: E731 - the file, or the --set that wrote the key
    raw = {} if raw is None else raw  # an empty section (`model:`) means its defaults
    if not isinstance(raw, dict):
        raise ConfigError(f"{where(prefix)}: {prefix or 'the config'} must be a mapping, got {raw!r}")
    fields = {f.name: f for f in dataclasses.fields(schema)}
    for name in raw:
        if name not in fields:
            raise ConfigError(f"{where(prefix)}: {_unknown_key(prefix, name, fields)}")
    hints = typing.get_type_hints(schema)
    values = {}
    for name, spec in fields.items():
        if name not in raw:
            continue
        key = f"{prefix}.{name}" if prefix else name
        values[name] = _convert(raw[name], hints[name], key, spec.metadata, where(key), sources)
    config = schema(**values)
    problem = config.problem() if hasattr(config, "problem") else None
    if problem:  # it comes from the section's keys together: name every --set among them
        sets = [setting for key, setting in sources.items() if key.startswith(f"{prefix}.")]
        raise ConfigError(f"{where(prefix)}{' with ' + ', '.join(sets) if sets else ''}: {problem}")
    return config


def _convert(value, hint, key, metadata, source, sources):
    def fail(expected):
        raise ConfigError(f"{source}: {key} = {value!r} must be {expected}")

    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union:  # Optional[X]
        if value is None:
            return None
        hint = next(arg for arg in args if arg is not type(None))
        origin, args = typing.get_origin(hint), typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, key, source, sources)
    if origin is Literal:
        if value not in args:
            fail("one of " + ", ".join(args))
        return value
    if origin is dict:
        if not isinstance(value, dict):
            fail("a mapping such as {0: negative, 1: positive}")
        return {str(k): str(v) for k, v in value.items()}
    if hint is bool:
        if not isinstance(value, bool):
            fail("true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            fail("an integer")
    elif hint is float:
        if isinstance(value, str):  # YAML 1.1 reads 1e-3 as a string
            try:
                value = float(value)
            except ValueError:
                fail("a number")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            fail("a finite number")
        value = float(value)
    elif hint is str:
        if not isinstance(value, str) or not value.strip():
            fail("a non-empty string")
        return value
    low, high, low_open, high_open = metadata.get("range", (None, None, False, False))
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        if high is None:
            fail(f"{'>' if low_open else '>='} {low}")
        fail(f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}")
    return value
