"""docs/config.md, generated from the schema: every key with its type, default,
allowed values and description. ``python -m app.cli.docs`` rewrites the file; a
test fails when it is stale."""

import dataclasses
import typing
from typing import Literal

from app.config.schema import Config

HEADER = """# Config reference

Every key of a config file, generated from the schema in `app/config/schema.py` by
`python -m app.cli.docs` (do not edit by hand). A key a config leaves out takes
the default shown; `--set section.key=value` overrides one on the command line.
"""


def config_reference() -> str:
    """The whole reference as Markdown: a table per section."""
    parts = [HEADER, "## top level", "", *_table(Config, "", sections=False)]
    for section in dataclasses.fields(Config):
        hint = typing.get_type_hints(Config)[section.name]
        if dataclasses.is_dataclass(hint):
            parts += _section(hint, section.name, section.metadata["help"])
    return "\n".join(parts) + "\n"


def _section(schema: type, prefix: str, help: str) -> list[str]:
    lines = ["", f"## {prefix}", "", f"{help[0].upper()}{help[1:]}.", "", *_table(schema, prefix, sections=False)]
    for spec in dataclasses.fields(schema):
        hint = typing.get_type_hints(schema)[spec.name]
        if dataclasses.is_dataclass(hint):
            lines += _section(hint, f"{prefix}.{spec.name}", spec.metadata["help"])
    return lines


def _table(schema: type, prefix: str, sections: bool) -> list[str]:
    rows = ["| key | type | default | allowed | description |", "|---|---|---|---|---|"]
    hints = typing.get_type_hints(schema)
    for spec in dataclasses.fields(schema):
        hint = hints[spec.name]
        if dataclasses.is_dataclass(hint):
            continue
        key = f"{prefix}.{spec.name}" if prefix else spec.name
        default = spec.default if spec.default is not dataclasses.MISSING else spec.default_factory()
        cells = [f"`{key}`", _type_name(hint), f"`{_yaml(default)}`", _allowed(hint, spec.metadata), spec.metadata["help"]]
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return rows


def _optional(hint: object) -> tuple[object, bool]:
    if typing.get_origin(hint) is typing.Union:
        return next(arg for arg in typing.get_args(hint) if arg is not type(None)), True
    return hint, False


def _type_name(hint: object) -> str:
    inner, optional = _optional(hint)
    if typing.get_origin(inner) is Literal:
        name = "string"
    elif typing.get_origin(inner) is dict:
        name = "mapping"
    else:
        name = {bool: "boolean", int: "integer", float: "number", str: "string"}[inner]
    return f"{name} or null" if optional else name


def _allowed(hint: object, metadata: dict) -> str:
    inner, _ = _optional(hint)
    if typing.get_origin(inner) is Literal:
        return ", ".join(f"`{value}`" for value in typing.get_args(inner))
    if metadata.get("choices") is not None:
        return ", ".join(f"`{name}`" for name in metadata["choices"].names())
    low, high, low_open, high_open = metadata["range"]
    if low is None and high is None:
        return ""
    if high is None:
        return f"{'>' if low_open else '≥'} {low}"
    return f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"


def _yaml(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
