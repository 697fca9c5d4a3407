"""A tuning config: a normal config plus a ``search`` section, checked against the
schema before anything trains.

    search:
      model.cell: [simple_rnn, lstm, gru]                      # one of these values
      model.units: {int: [32, 256], log: true}                 # an integer in the range
      train.learning_rate: {float: [0.0003, 0.003], log: true}
      metric: val_loss                                         # the study's settings (SETTINGS)
      timeout_minutes: 60

A dotted key is any key of the schema except those that would change what a trial
is judged on (REFUSED). Every value a key may take (each choice, both ends of a
range) is put into the config and validated as a ``--set`` would be, so an unknown
key, a value of the wrong type or a range outside the schema's is one error naming
the file, the key and what is allowed. Plain Python: no TensorFlow, no Optuna.
"""

import copy
import dataclasses
import json
import math
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from app.config.loader import apply_overrides, config_from_dict, read_config_mapping, set_dotted, shown
from app.config.schema import Config
from app.errors import ConfigError

# name -> (default, what it does); validated by _setting
SETTINGS = {
    "metric": ("val_loss", "what a trial is judged on, at the epoch whose weights it keeps: val_loss (lower is "
                           "better) or val_accuracy; validation only, the test set is never seen during the search"),
    "timeout_minutes": (None, "no new trial starts after this many minutes of a session (null: no limit)"),
    "pruner": ("median", "median: after each epoch a trial worse than the median of the finished trials at that "
                         "epoch is stopped (pruned); none: every trial runs to its end"),
    "startup_trials": (5, "the first trials sample at random and are never pruned; later ones are sampled where "
                          "the good ones were (TPE) and may be pruned"),
}
METRICS = {"val_loss": "minimize", "val_accuracy": "maximize"}
PRUNERS = ("median", "none")
REFUSED = {  # key prefix -> why a search may not set it
    "data.": "every trial must read the same comments",
    "train.validation_split": "every trial must be judged on the same validation comments",
    "train.seed": "a seed is not a hyperparameter: every trial starts from the same one",
    "distill.": "a search does not distil (its teacher is scored on the test set); distil the best config afterwards",
}
RANGE_KEYS = ("int", "float", "log", "step")


@dataclass(frozen=True)
class Dimension:
    """One dotted key of the search and the values it may take: ``choices``, or a
    range from ``low`` to ``high`` (integers for kind int), on a log scale with ``log``."""

    key: str
    kind: Literal["choice", "int", "float"]
    choices: tuple = ()
    low: float = 0
    high: float = 0
    log: bool = False
    step: float | None = None

    def suggest(self, trial: Any) -> Any:
        """The value an Optuna trial proposes for this key."""
        if self.kind == "choice":
            return trial.suggest_categorical(self.key, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.key, self.low, self.high, step=self.step or 1, log=self.log)
        return trial.suggest_float(self.key, self.low, self.high, step=self.step, log=self.log)

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is one this dimension may take."""
        if self.kind == "choice":
            return value in self.choices
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (self.kind == "int" and not isinstance(value, int)):
            return False
        return self.low <= value <= self.high and (not self.step or (value - self.low) % self.step == 0)

    def describe(self) -> str:
        """The values in words: ``one of lstm, gru``, ``an integer in [32, 256], log scale``."""
        if self.kind == "choice":
            return "one of " + ", ".join(map(str, self.choices))
        kind = "an integer" if self.kind == "int" else "a number"
        return (f"{kind} in [{self.low:g}, {self.high:g}]" + (f", step {self.step:g}" if self.step else "")
                + (", log scale" if self.log else ""))


@dataclass(frozen=True)
class TuningConfig:
    """A validated tuning config: the base config, the search dimensions and settings."""

    path: Path
    raw: dict  # the config's mapping without the search section, overrides applied
    search: dict  # the search section as written
    base: Config
    dimensions: tuple[Dimension, ...]
    metric: str
    timeout_minutes: float | None
    pruner: str
    startup_trials: int

    @property
    def direction(self) -> str:
        """minimize or maximize: what Optuna does with the metric."""
        return METRICS[self.metric]

    def trial_config(self, values: dict[str, Any]) -> Config:
        """The base config with a trial's values (dotted key -> value) set, validated
        against the schema; ConfigError when the values do not go together."""
        raw = copy.deepcopy(self.raw)
        for key, value in values.items():
            set_dotted(raw, key, value, source=str(self.path))
        settings = ", ".join(f"{key}={value}" for key, value in values.items())
        return config_from_dict(raw, source=f"{self.path} with {settings}")

    def baseline(self) -> dict[str, Any] | None:
        """The base config's value of every searched key, when all lie in the search space:
        the study's first trial, so the best is never worse than the config as written."""
        values = {d.key: dotted_value(self.base, d.key) for d in self.dimensions}
        return values if all(d.contains(values[d.key]) for d in self.dimensions) else None

    def study_identity(self) -> dict:
        """What a study is started with and a resumed one must still have: the config and
        the search, less timeout_minutes (each session may run for as long as it likes)."""
        search = {key: value for key, value in self.search.items() if key != "timeout_minutes"}
        return json.loads(json.dumps({"config": self.raw, "search": search}, sort_keys=True, default=str))


def load_tuning_config(path: str | Path, overrides: typing.Sequence[str] = ()) -> TuningConfig:
    """Read and validate a tuning config; ``overrides`` (``key=value``) change its base
    config as ``--set`` does. Raises ConfigError, one line naming the file and key."""
    path, raw = read_config_mapping(path)
    if "search" not in raw:
        raise ConfigError(f"{path}: no search section; a tuning config is a config plus "
                          "search: {dotted.key: values} (docs/tuning.md)")
    search = raw.pop("search")
    if not isinstance(search, dict) or not search:
        raise ConfigError(f"{path}: search must be a mapping of dotted keys to values, e.g. "
                          f"model.units: {{int: [32, 256]}}, got {shown(search)}")
    sources = apply_overrides(raw, overrides)
    base = config_from_dict(raw, source=str(path), sources=sources)
    if base.distill.unlabeled:
        raise ConfigError(f"{path}: distill.unlabeled is set; {REFUSED['distill.']}")
    settings = {name: default for name, (default, _) in SETTINGS.items()}
    dimensions = []
    for key, spec in search.items():
        if not isinstance(key, str) or "." not in key:
            settings[key] = _setting(path, key, spec)
        else:
            dimensions.append(_dimension(path, raw, key, spec))
    if not dimensions:
        raise ConfigError(f"{path}: search names no dotted config key to search, e.g. model.units: {{int: [32, 256]}}")
    return TuningConfig(path, raw, search, base, tuple(dimensions), **settings)


def _setting(path, name, value):
    """A study setting's value, or ConfigError."""
    def fail(expected):
        raise ConfigError(f"{path}: search.{name} = {shown(value)} must be {expected}")

    if name not in SETTINGS:
        raise ConfigError(f"{path}: search.{name} is neither a setting ({', '.join(SETTINGS)}) nor a dotted "
                          "config key such as model.units")
    if name == "metric" and value not in METRICS:
        fail("one of " + ", ".join(METRICS))
    if name == "pruner" and value not in PRUNERS:
        fail("one of " + ", ".join(PRUNERS))
    if name == "startup_trials" and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        fail("an integer >= 0")
    if name == "timeout_minutes" and value is not None and (
            isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0):
        fail("a number > 0, or null for no limit")
    return value


def _dimension(path, raw, key, spec):
    """The Dimension for ``key: spec``, every value it may take validated against the schema."""
    for prefix, why in REFUSED.items():
        if key == prefix or key.startswith(prefix):
            raise ConfigError(f"{path}: search.{key} cannot be searched: {why}")
    hint = set_dotted(copy.deepcopy(raw), key, None, source=f"{path}: search")  # the key exists, or did-you-mean
    if typing.get_origin(hint) is typing.Union:  # Optional[X]
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    if dataclasses.is_dataclass(hint):
        raise ConfigError(f"{path}: search.{key} is a section; search its keys ({key}.<key>)")
    if isinstance(spec, list):
        choices = [_checked(path, raw, key, value) for value in spec]
        if not choices:
            raise ConfigError(f"{path}: search.{key} = [] must list at least one value")
        if len({json.dumps(value) for value in choices}) < len(choices):
            raise ConfigError(f"{path}: search.{key} = {shown(spec)} lists a value twice")
        return Dimension(key, "choice", choices=tuple(choices))
    if not isinstance(spec, dict):
        raise ConfigError(f"{path}: search.{key} = {shown(spec)} must be a list of values or a range such as "
                          "{int: [32, 256]} or {float: [0.0003, 0.003], log: true}")
    return _range(path, raw, key, spec, hint)


def _range(path, raw, key, spec, hint):
    """A range dimension ``{int|float: [low, high], log: bool, step: number}``."""
    where = f"{path}: search.{key}"
    unknown = [name for name in spec if name not in RANGE_KEYS]
    kinds = [name for name in ("int", "float") if name in spec]
    if unknown:
        raise ConfigError(f"{where}: {shown(unknown[0])} is not a range key (known: {', '.join(RANGE_KEYS)})")
    if len(kinds) != 1:
        raise ConfigError(f"{where} = {shown(spec)} must have one of int: [low, high] or float: [low, high]")
    kind = kinds[0]
    if hint not in (int, float):
        raise ConfigError(f"{where}: {key} is not a number: list its values instead of a range")
    if kind != hint.__name__:
        raise ConfigError(f"{where}: {key} is {'an integer' if hint is int else 'a number'}: its range is "
                          f"{{{hint.__name__}: [low, high]}}, not {{{kind}: ...}}")
    ends = spec[kind]
    if not isinstance(ends, list) or len(ends) != 2:
        raise ConfigError(f"{where}: {kind} = {shown(ends)} must be [low, high]")
    low, high = (_checked(path, raw, key, value) for value in ends)
    if not low < high:
        raise ConfigError(f"{where}: {kind} = {shown(ends)} must have low < high")
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise ConfigError(f"{where}: log = {shown(log)} must be true or false")
    if log and low <= 0:
        raise ConfigError(f"{where}: a log-scale range must start above 0, not at {low}")
    step = spec.get("step")
    if step is not None:
        if isinstance(step, bool) or not isinstance(step, (int, float)) or step <= 0 or (kind == "int" and not isinstance(step, int)):
            raise ConfigError(f"{where}: step = {shown(step)} must be {'an integer' if kind == 'int' else 'a number'} > 0")
        if log:
            raise ConfigError(f"{where}: step and log do not go together (Optuna samples one or the other)")
    return Dimension(key, kind, low=low, high=high, log=log, step=step)


def _checked(path, raw, key, value):
    """``value`` as the schema converts it for ``key`` (1e-3 -> 0.001), checked in the
    whole config: its type, its range and the section's rules."""
    if isinstance(value, (list, dict)):
        raise ConfigError(f"{path}: search.{key}: {shown(value)} must be a single value")
    candidate = copy.deepcopy(raw)
    set_dotted(candidate, key, value, source=f"{path}: search")
    config = config_from_dict(candidate, source=f"{path}: search")  # the base passed: an error is the value's
    return dotted_value(config, key)


def dotted_value(config: Config, key: str) -> Any:
    """The value at a dotted key: ``model.units`` -> config.model.units."""
    node = config
    for part in key.split("."):
        node = getattr(node, part)
    return node
