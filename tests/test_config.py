"""Config loading: the shipped configs, one-line errors that name file, key, value and
what is allowed, ``--set`` overrides, and safe YAML loading."""

import re
from pathlib import Path

import pytest

from app.config import Config, ConfigError, load_config

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHIPPED_CONFIGS = sorted(path for path in (PROJECT_ROOT / "configs").glob("*.yaml") if "search:" not in path.read_text())
TUNING_CONFIGS = sorted(path for path in (PROJECT_ROOT / "configs").glob("*.yaml") if "search:" in path.read_text())


@pytest.fixture
def write_config(tmp_path):
    """Write YAML text to a config file in tmp_path and return its path."""

    def write(text, name="config.yaml"):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


def config_error(path, overrides=()):
    """The ConfigError that loading ``path`` with ``overrides`` raises."""
    with pytest.raises(ConfigError) as caught:
        load_config(path, overrides)
    return str(caught.value)


# ----------------------------------------------------------------------------- shipped configs

def test_the_project_ships_configs():
    assert SHIPPED_CONFIGS, "configs/*.yaml is empty"


@pytest.mark.parametrize("path", SHIPPED_CONFIGS, ids=lambda path: path.name)
def test_every_shipped_config_loads_without_error(path):
    config = load_config(path)
    assert isinstance(config, Config)
    assert config.model.cell in ("simple_rnn", "lstm", "gru")


@pytest.mark.parametrize("path", TUNING_CONFIGS, ids=lambda path: path.name)
def test_every_shipped_tuning_config_loads_and_a_training_config_names_the_tune_flag(path):
    from app.tuning.space import load_tuning_config

    assert load_tuning_config(path).dimensions
    with pytest.raises(ConfigError, match=f"search is a tuning config's section: python train.py --tune {path}"):
        load_config(path)


def test_an_empty_file_gives_the_defaults(write_config):
    assert load_config(write_config("")) == Config()


def test_values_from_the_file_replace_the_defaults(write_config):
    config = load_config(write_config("model: {units: 32, bidirectional: true}\ntrain: {learning_rate: 1e-3}\n"))
    assert config.model.units == 32 and config.model.bidirectional is True
    assert config.train.learning_rate == 0.001 and isinstance(config.train.learning_rate, float)
    assert config.model.cell == Config().model.cell  # untouched keys keep their defaults


# ----------------------------------------------------------------------------- unknown keys

def test_unknown_key_error_names_file_key_and_suggestion(write_config):
    path = write_config("model: {unitz: 3}\n")
    message = config_error(path)
    assert str(path) in message
    assert "model.unitz" in message
    assert "did you mean model.units" in message


def test_unknown_section_error_suggests_the_section(write_config):
    message = config_error(write_config("modle: {units: 3}\n"))
    assert "modle" in message and "did you mean model?" in message


def test_unknown_key_with_nothing_close_lists_the_known_keys(write_config):
    message = config_error(write_config("vocab: {zzzzzz: 1}\n"))
    assert "vocab.zzzzzz" in message
    assert "max_size" in message and "min_count" in message and "max_length" in message


# ----------------------------------------------------------------------------- bad values

@pytest.mark.parametrize(
    "text, key, shown_value, allowed",
    [
        ('model: {units: "many"}', "model.units", "'many'", "an integer"),
        ("model: {units: 64.5}", "model.units", "64.5", "an integer"),
        ("model: {units: 0}", "model.units", "0", "in [1, 4096]"),
        ("model: {dropout: 1.5}", "model.dropout", "1.5", "in [0, 1)"),
        ("model: {dropout: 1.0}", "model.dropout", "1.0", "in [0, 1)"),
        ("vocab: {max_length: -1}", "vocab.max_length", "-1", "in [1, 10000]"),
        ("model: {cell: transformer}", "model.cell", "'transformer'", "one of simple_rnn, lstm, gru"),
        ("model: {bidirectional: maybe}", "model.bidirectional", "'maybe'", "true or false"),
        ("data: {encoding_errors: ignore}", "data.encoding_errors", "'ignore'", "one of strict, replace"),
        ("train: {learning_rate: 0.0}", "train.learning_rate", "0.0", "> 0"),
        ("train: {learning_rate: fast}", "train.learning_rate", "'fast'", "a number"),
        ("data: {test_split: 1.0}", "data.test_split", "1.0", "in (0, 1)"),
        ("train: {early_stopping: {patience: -2}}", "train.early_stopping.patience", "-2", "in [0, 1000]"),
    ],
    ids=lambda v: v if isinstance(v, str) and "{" in v else None,
)
def test_bad_value_error_is_one_line_naming_key_value_and_what_is_allowed(write_config, text, key, shown_value, allowed):
    path = write_config(text + "\n")
    message = config_error(path)
    assert message == f"{path}: {key} = {shown_value} must be {allowed}"


def test_a_section_that_is_not_a_mapping_is_an_error(write_config):
    message = config_error(write_config("model: 3\n"))
    assert "model must be a mapping" in message


def test_label_names_must_be_a_mapping_and_keys_become_strings(write_config):
    assert load_config(write_config("data: {label_names: {0: neg, 1: pos}}\n")).data.label_names == {"0": "neg", "1": "pos"}
    assert "data.label_names" in config_error(write_config("data: {label_names: [neg, pos]}\n"))


def test_tokenizer_stem_with_mecab_is_an_error_mentioning_okt(write_config):
    message = config_error(write_config("tokenizer: {backend: mecab, stem: true}\n"))
    assert "okt" in message and "tokenizer.stem" in message


def test_warmup_without_a_schedule_is_an_error_naming_both_keys(write_config):
    message = config_error(write_config("train: {warmup: 0.1}\n"))
    assert "train.warmup" in message and "cosine" in message
    assert load_config(write_config("train: {lr_schedule: cosine, warmup: 0.1}\n")).train.warmup == 0.1


def test_a_problem_between_keys_names_the_file_and_each_set_that_took_part(write_config):
    path = write_config("train: {lr_schedule: cosine, epochs: 2}\n")
    message = config_error(path, ["train.lr_schedule=constant", "train.warmup=0.1", "model.units=8"])
    assert message.startswith(f"{path} with --set train.lr_schedule=constant, --set train.warmup=0.1: train.warmup")
    assert "model.units" not in message


def test_tokenizer_stem_with_okt_is_allowed(write_config):
    config = load_config(write_config("tokenizer: {backend: okt, stem: true, norm: true}\n"))
    assert config.tokenizer.stem is True and config.tokenizer.norm is True


@pytest.mark.parametrize("text", ["train: {learning_rate: .nan}", "model: {dropout: .nan}", "data: {test_split: .nan}"])
def test_nan_is_not_inside_any_range(write_config, text):
    config_error(write_config(text + "\n"))


# ----------------------------------------------------------------------------- --set overrides

def test_set_override_parses_int_float_and_null(write_config):
    path = write_config("model: {units: 16}\ndata: {test: some.tsv}\n")
    config = load_config(path, ["model.units=64", "train.learning_rate=1e-3", "data.test=null"])
    assert config.model.units == 64 and type(config.model.units) is int
    assert config.train.learning_rate == 0.001 and type(config.train.learning_rate) is float
    assert config.data.test is None


def test_set_override_reaches_nested_sections_and_creates_missing_ones(write_config):
    config = load_config(write_config(""), ["train.early_stopping.patience=5", "data.label_names={0: neg, 1: pos}"])
    assert config.train.early_stopping.patience == 5
    assert config.data.label_names == {"0": "neg", "1": "pos"}


def test_set_unknown_key_error_starts_with_the_set_and_suggests_the_key(write_config):
    message = config_error(write_config(""), ["model.unitz=3"])
    assert message.startswith("--set model.unitz=3")
    assert "did you mean model.units" in message


def test_set_value_out_of_range_names_the_set_as_the_source(write_config):
    path = write_config("model: {units: 16}\n")
    message = config_error(path, ["model.units=0"])
    assert message.startswith("--set model.units=0: ")
    assert "model.units = 0 must be in [1, 4096]" in message
    assert str(path) not in message  # the file's value was fine; the --set is to blame


def test_a_bad_value_in_the_file_still_names_the_file_when_other_keys_are_set(write_config):
    path = write_config("model: {dropout: 2}\n")
    message = config_error(path, ["model.units=64"])
    assert message.startswith(f"{path}: model.dropout")


@pytest.mark.parametrize("override", ["model.units", "=3", " =3"])
def test_set_without_key_and_value_is_an_error(write_config, override):
    assert "dotted.key=value" in config_error(write_config(""), [override])


def test_set_on_a_value_as_if_it_were_a_section_is_an_error(write_config):
    message = config_error(write_config(""), ["model.units.x=1"])
    assert "model.units is a value, not a section" in message


# ----------------------------------------------------------------------------- the file itself

def test_a_yaml_list_instead_of_a_mapping_is_an_error(write_config):
    path = write_config("- model\n- train\n")
    message = config_error(path)
    assert str(path) in message and "mapping" in message and "list" in message


def test_python_yaml_tags_are_refused_and_nothing_runs(write_config, tmp_path):
    marker = tmp_path / "ran"
    path = write_config(f'name: !!python/object/apply:os.system ["touch {marker}"]\n')
    message = config_error(path)
    assert str(path) in message
    assert not marker.exists()


def test_invalid_yaml_syntax_is_an_error_naming_the_file(write_config):
    path = write_config("model: {units: 3\ntrain: [\n", name="broken.yaml")
    message = config_error(path)
    assert "broken.yaml" in message and "not valid YAML" in message


def test_a_missing_file_is_an_error_naming_it(tmp_path):
    path = tmp_path / "nope.yaml"
    message = config_error(path)
    assert str(path) in message and "not found" in message


def test_a_file_that_is_not_utf8_is_an_error(tmp_path):
    path = tmp_path / "cp949.yaml"
    path.write_bytes("name: 감성\n".encode("cp949"))
    assert "UTF-8" in config_error(path)


def test_a_directory_instead_of_a_file_is_a_config_error(tmp_path):
    config_error(tmp_path)


# ----------------------------------------------------------------------------- one line

@pytest.mark.parametrize(
    "text, overrides",
    [
        ("model: {unitz: 3}\n", []),
        ("model: {units: many}\n", []),
        ("model: {cell: transformer}\n", []),
        ("tokenizer: {backend: kiwi, norm: true}\n", []),
        ("- a\n- b\n", []),
        ("model:\n  units: 3\n   dropout: 0.1\n  [\n", []),  # PyYAML's own message spans several lines
        ("a: !!python/object/apply:os.system [\"true\"]\n", []),
        ("", ["model.unitz=3"]),
        ("", ["model.units=0"]),
        ("", ["novalue"]),
    ],
)
def test_errors_are_a_single_line(write_config, text, overrides):
    message = config_error(write_config(text), overrides)
    assert message and "\n" not in message


def test_an_unknown_key_containing_a_newline_still_gives_a_one_line_error(write_config):
    message = config_error(write_config('model: {"uni\\nts": 3}\n'))
    assert "\n" not in message


def test_a_shipped_config_is_found_from_any_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_config("tests/tiny.yaml").data.train == "data/sample_binary.tsv"
    with pytest.raises(ConfigError, match="configs/nowhere.yaml: config file not found"):
        load_config("configs/nowhere.yaml")


def test_none_reads_as_null_for_a_key_that_may_be_null():
    config = load_config(PROJECT_ROOT / "tests" / "tiny.yaml", ["pretrain.unlabeled=none", "data.test=None"])
    assert config.pretrain.unlabeled is None and config.data.test is None
    with pytest.raises(ConfigError, match="model.cell = 'none' must be one of"):
        load_config(PROJECT_ROOT / "tests" / "tiny.yaml", ["model.cell=none"])  # not a key that may be null


def test_yaml_aliases_are_refused_so_a_billion_laughs_cannot_expand(tmp_path):
    path = tmp_path / "laughs.yaml"
    path.write_text('a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
                    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                    "model:\n  units: [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"laughs\.yaml: not valid YAML: line 2: an alias \(\*a\); write the value out"):
        load_config(path)


def test_nesting_thousands_deep_is_one_line_not_a_recursion_error(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text("model: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"deep\.yaml: nested too deeply to be a config$"):
        load_config(path)


def test_an_error_quotes_a_huge_value_only_in_part(tmp_path):
    path = tmp_path / "long.yaml"
    path.write_text(f"model:\n  units: \"{'x' * 100_000}\"\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert len(message) < 300 and "... (100,002 characters) must be an integer" in message


@pytest.mark.parametrize("override, bound", [("model.units=1000000000", "[1, 4096]"),
                                             ("vocab.max_length=1000000000", "[1, 10000]"),
                                             ("train.seed=99999999999", "[0, 4294967295]"),
                                             ("train.batch_size=10000000000", "[1, 1000000]")])
def test_values_that_can_only_be_mistakes_are_refused_before_anything_loads(override, bound):
    with pytest.raises(ConfigError, match=re.escape(f"must be in {bound}")):
        load_config(PROJECT_ROOT / "tests" / "tiny.yaml", [override])
