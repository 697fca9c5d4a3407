"""docs/config.md is the schema, written out: every key, and never stale."""

import dataclasses

from conftest import PROJECT_ROOT

from app.config import Config
from app.config.docs import config_reference


def test_docs_config_md_is_what_the_schema_generates():
    written = (PROJECT_ROOT / "docs" / "config.md").read_text(encoding="utf-8")
    assert written == config_reference(), "docs/config.md is stale: run python -m app.cli.docs"


def test_every_key_of_the_schema_is_documented_with_a_description():
    reference = config_reference()

    def keys(schema, prefix=""):
        for spec in dataclasses.fields(schema):
            key = f"{prefix}{spec.name}"
            assert spec.metadata["help"], key
            if dataclasses.is_dataclass(spec.type) or isinstance(spec.default_factory, type):
                yield from keys(spec.default_factory, f"{key}.")
            else:
                yield key

    for key in keys(Config):
        assert f"| `{key}` |" in reference, key
    assert "`simple_rnn`, `lstm`, `gru`" in reference  # allowed values from the cell registry
