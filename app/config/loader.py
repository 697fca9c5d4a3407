"""YAML loading, ``key=value`` overrides and validation against the schema
(app.config.schema).

One generic validator checks a whole file before any data is read, and every error
names the file (or the override), the dotted key, the value and what is allowed, on
one line.
"""

import dataclasses
import difflib
import math
import os
import typing
from pathlib import Path
from typing import Literal, NoReturn

import yaml

from app import paths
from app.config.schema import Config
from app.errors import ConfigError, DataError, one_line


def load_config(path: str | Path, overrides: typing.Sequence[str] = ()) -> Config:
    """Read a YAML config, apply ``key=value`` overrides (``model.units=64``) and
    validate the result against the schema.

    A relative ``path`` missing from the working directory is looked for in the
    project (``configs/quick.yaml`` works from anywhere). Raises ConfigError naming
    the file (or the override), key, value and what is allowed.
    """
    path, raw = read_config_mapping(path)
    sources = apply_overrides(raw, overrides)
    return config_from_dict(raw, source=str(path), sources=sources)


def read_config_mapping(path: str | os.PathLike) -> tuple[Path, dict]:
    """(the file found, its YAML mapping, not yet validated): load_config's first step,
    for a file with a section of its own besides the schema's (a tuning config's
    ``search``). Raises ConfigError for a missing, unreadable or non-mapping file."""
    path = Path(path)
    if not path.is_absolute() and not path.exists() and (paths.project_root() / path).exists():
        path = paths.project_root() / path
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_ConfigLoader)
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a config") from None
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
    return path, raw


def apply_overrides(raw: dict, overrides: typing.Sequence[str]) -> dict[str, str]:
    """Apply ``key=value`` overrides to a config mapping in place; returns each key's
    source (``--set key=value``) for config_from_dict's errors."""
    sources = {}
    for override in overrides:
        key, value = _parse_override(override)
        set_dotted(raw, key, value, source=f"--set {override}")
        sources[key] = f"--set {override}"
    return sources


class _ConfigLoader(yaml.SafeLoader):
    """Safe YAML without aliases: a config never needs one, and aliases that expand
    ("billion laughs") turn a kilobyte of YAML into gigabytes."""

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        """The next node; an alias (``*name``) is refused with its line."""
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.YAMLError(f"line {mark.line + 1}: an alias (*{self.peek_event().anchor}); "
                                 f"write the value out, configs do not use YAML aliases")
        return super().compose_node(parent, index)


def shown(value: object, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters: an error quotes what it refuses,
    never megabytes of it."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def check_data_files(config: Config) -> None:
    """Raise one DataError listing every file ``config`` names that is not there, each
    with its key and where to get it, so that a fresh machine learns all it lacks at
    once and before TensorFlow loads; then one for a labeled file without the
    configured text or label column. NSMC's unlabeled reviews may be missing: training
    then warns and goes on without them (app.training.pretrain)."""
    named = {"data.train": config.data.train, "data.test": config.data.test,
             "pretrain.unlabeled": config.pretrain.unlabeled, "distill.unlabeled": config.distill.unlabeled}
    from app.data.readers import first_rows, require_label_column, resolve_data_path  # pandas loads only here

    missing, found = [], {}
    for key, spec in named.items():
        if spec in (None, "nsmc:unlabeled"):
            continue
        try:
            found[key] = resolve_data_path(spec)
        except DataError as error:
            missing.append(f"{key}: {error}")
    if len(missing) == 1:
        raise DataError(missing[0])
    if missing:
        raise DataError(f"{len(missing)} files this config names are missing: " + "; ".join(missing))
    for key in ("data.train", "data.test"):  # a wrong column fails now, not after the imports
        first = first_rows(found[key], config.data) if key in found else None
        if first is not None:
            require_label_column(first.columns, config.data.label_column, str(found[key]))


def config_from_dict(raw: dict, source: str = "<config>", sources: dict | None = None) -> Config:
    """Validate a nested dict (as read from YAML) into a Config; ``source`` names it in errors."""
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


def set_dotted(raw: dict, key: str, value: object, source: str) -> object:
    """Put ``value`` at ``a.b.c`` in ``raw``, checking every part against the schema;
    returns the key's type in the schema (``int``, ``Optional[float]``...)."""
    schema, node, parts = Config, raw, key.split(".")
    for depth, part in enumerate(parts):
        prefix = ".".join(parts[:depth])
        names = {f.name: f for f in dataclasses.fields(schema)}
        if part not in names:
            raise ConfigError(f"{source}: {_unknown_key(prefix, part, names)}")
        hint = typing.get_type_hints(schema)[part]
        if depth == len(parts) - 1:
            node[part] = value
            return hint
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
    where = lambda key: sources.get(key, source)
    raw = {} if raw is None else raw  # an empty section (`model:`) means its defaults
    if not isinstance(raw, dict):
        raise ConfigError(f"{where(prefix)}: {prefix or 'the config'} must be a mapping, got {shown(raw)}")
    fields = {f.name: f for f in dataclasses.fields(schema)}
    for name in raw:
        if name == "search" and not prefix:  # a tuning config given where a training config belongs
            raise ConfigError(f"{where(prefix)}: search is a tuning config's section: python train.py --tune {source}")
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
    def fail(expected: str) -> NoReturn:
        """Raise a ConfigError: the key's value must be ``expected``."""
        raise ConfigError(f"{source}: {key} = {shown(value)} must be {expected}")

    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union:  # Optional[X]
        if value is None or (isinstance(value, str) and value.strip().lower() == "none"):  # `none` reads as null
            return None
        hint = next(arg for arg in args if arg is not type(None))
        origin, args = typing.get_origin(hint), typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, key, source, sources)
    if origin is Literal:
        if value not in args:
            fail("one of " + ", ".join(args))
        return value
    if metadata.get("choices") is not None:  # a registry: what is registered now is allowed
        if value not in metadata["choices"]:
            fail("one of " + ", ".join(metadata["choices"].names()))
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
