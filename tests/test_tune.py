"""Hyperparameter search (train.py --tune, app.tuning): the search section is checked
against the schema before anything trains; a study lives in SQLite under
models/<study>/, keeps its finished trials through Ctrl-C and continues with
--resume to the same trial count; a trial clearly worse after an epoch is pruned, one
the schema refuses fails and the study goes on; at the end the best config is a plain
YAML file that trains, saved as a run with its test metrics, and report.html shows it all.

Tiny on purpose: 2,000 reviews of the bundled NSMC sample (enough that a good
learning rate is clearly better than a hopeless one after an epoch), 2 epochs, 8 units.
"""

import json

import pytest
import yaml

from app.config import load_config
from app.errors import ConfigError
from tests.conftest import PROJECT_ROOT

BASE = {
    "name": "tiny-tune",
    "data": {"train": str(PROJECT_ROOT / "data" / "nsmc-sample" / "ratings_train.tsv"), "test": None, "max_rows": 2000,
             "label_names": {0: "negative", 1: "positive"}},
    "vocab": {"max_size": 2000, "min_count": 1, "max_length": 30},
    "model": {"cell": "lstm", "units": 8, "embedding_dim": 8, "pooling": "max"},
    "train": {"learning_rate": 0.02, "clipnorm": 1.0, "batch_size": 128, "epochs": 2,
              "early_stopping": {"monitor": "val_loss", "patience": 1}},
}
SEARCH = {
    "model.cell": ["lstm", "gru"],
    "model.units": {"int": [4, 16]},
    "train.learning_rate": {"float": [0.000001, 0.03], "log": True},
    "startup_trials": 2,  # the first two trials to complete are never pruned; later ones may be
}
GOOD = {"model.cell": "gru", "model.units": 8, "train.learning_rate": 0.03}
HOPELESS = {**GOOD, "train.learning_rate": 0.000001}  # learns nothing in an epoch


def write_tuning(path, search=SEARCH, base=BASE):
    path.write_text(yaml.safe_dump({**base, "search": search}, allow_unicode=True), encoding="utf-8")
    return path


def ctrl_c_in_second_trial():
    """A Keras callback for every trial that does what Ctrl-C does, where it lands in real
    life: a KeyboardInterrupt inside the second trial's training (as it starts: sooner is cheaper)."""
    import keras

    class CtrlC(keras.callbacks.Callback):
        trainings = 0

        def on_train_begin(self, logs=None):
            self.trainings += 1
            if self.trainings == 2:
                raise KeyboardInterrupt

    return CtrlC()


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A 4-trial study interrupted in its second trial, then resumed with three trials
    added through Optuna's enqueue_trial (a good one, a hopeless one, one the schema
    refuses); what each session left."""
    import optuna

    from app.tuning.space import load_tuning_config
    from app.tuning.study import STUDY_FILE, tune

    root = tmp_path_factory.mktemp("tune")
    tuning = load_tuning_config(write_tuning(root / "tune.yaml"))
    models = root / "models"
    with pytest.raises(KeyboardInterrupt):
        tune(tuning, 4, models_dir=models, name="study", callbacks=[ctrl_c_in_second_trial()])
    storage = f"sqlite:///{models / 'study' / STUDY_FILE}"
    after_ctrl_c = [(t.number, t.state.name, dict(t.user_attrs)) for t in optuna.load_study(study_name="study", storage=storage).trials]
    files_after_ctrl_c = sorted(p.name for p in (models / "study").iterdir())

    resumed = optuna.load_study(study_name="study", storage=storage)
    for values in (GOOD, HOPELESS, {**GOOD, "model.units": 0}):  # units = 0: outside the schema's units >= 1
        resumed.enqueue_trial(values)
    result = tune(tuning, 4, models_dir=models, name="study", resume=True, command="python train.py --tune tune.yaml")
    return {"root": root, "tuning": tuning, "models": models, "after_ctrl_c": after_ctrl_c,
            "files_after_ctrl_c": files_after_ctrl_c, "result": result}


def test_ctrl_c_keeps_the_finished_trials_and_nothing_half_written(study):
    (first, state, attrs), (second, second_state, second_attrs) = study["after_ctrl_c"]
    assert (first, state, attrs["baseline"]) == (0, "COMPLETE", True)  # the config as written runs first
    assert (second, second_state, second_attrs["interrupted"]) == (1, "FAIL", "KeyboardInterrupt")
    assert study["files_after_ctrl_c"] == ["study.db", "study.lock", "tuning.yaml"]  # no results yet


def test_resume_continues_to_the_trial_count_asked_with_one_pruned_and_one_failed(study):
    from app.tuning.study import counted

    result = study["result"]
    rows = {row["trial"]: row for row in json.loads((result.directory / "results.json").read_text())["trials"]}
    assert result.counts == {"complete": 2, "pruned": 1, "failed": 1, "interrupted": 1}
    assert [rows[n]["state"] for n in range(5)] == ["complete", "interrupted", "complete", "pruned", "failed"]
    assert list(rows[3]["intermediate"]) == ["1"]  # the hopeless one: pruned after its first epoch of two
    assert rows[4]["failure"].endswith("model.units = 0 must be in [1, 4096]")
    import optuna

    storage = f"sqlite:///{result.directory / 'study.db'}"
    assert counted(optuna.load_study(study_name="study", storage=storage)) == 4  # the interrupted one not counted


def test_the_best_config_is_plain_yaml_that_trains_and_its_run_has_test_metrics(study):
    from app.artifacts.run import SavedRun

    result = study["result"]
    summary = json.loads((result.directory / "results.json").read_text())
    lowest = min((row for row in summary["trials"] if row["state"] == "complete"), key=lambda row: row["val_loss"])
    best = load_config(result.best_config)  # what python train.py --config reads
    assert result.best.number == lowest["trial"] and best.name == "study-best"
    assert (best.model.cell, best.model.units, best.train.learning_rate) == tuple(lowest["params"].values())
    run = SavedRun.load(result.run.path)
    assert run.config == best and 0 <= run.metrics["accuracy"] <= 1 and run.metrics["n"] == 400
    assert summary["best"]["test"]["accuracy"] == run.metrics["accuracy"]
    assert abs(run.history["val_loss"][run.metrics["best_epoch"] - 1] - result.best.value) < 1e-3  # the trial's model again


def test_report_shows_trials_history_importances_and_best_config_offline(study):
    directory = study["result"].directory
    page = (directory / "report.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 3  # history, epochs, importances
    assert "data:font/ttf;base64," in page and "하이퍼파라미터 탐색" in page
    assert "http://" not in page and "https://" not in page
    assert "pruned after epoch 1" in page and "name: study-best" in page


def test_a_study_is_not_started_twice_and_resumes_only_with_its_own_search(study):
    from app.tuning.space import load_tuning_config
    from app.tuning.study import tune

    with pytest.raises(ConfigError, match="holds a study; --resume continues it"):
        tune(study["tuning"], 4, models_dir=study["models"], name="study")
    changed = load_tuning_config(write_tuning(study["root"] / "changed.yaml", {**SEARCH, "model.cell": ["gru"]}))
    with pytest.raises(ConfigError, match=r"search.model.cell is \['gru'\] here but \['lstm', 'gru'\] in the study"):
        tune(changed, 4, models_dir=study["models"], name="study", resume=True)


@pytest.mark.parametrize(("search", "error"), [
    ({"model.unit": [8, 16]}, "search: model.unit is not a known key (did you mean model.units?)"),
    ({"model.units": {"int": [8, 9000]}}, "search: model.units = 9000 must be in [1, 4096]"),
    ({"model.units": {"float": [8, 16]}}, "search.model.units: model.units is an integer: its range is {int: [low, high]}"),
    ({"model.cell": ["lstm", "transformer"]}, "search: model.cell = 'transformer' must be one of simple_rnn, lstm, gru"),
    ({"model.bidirectional": [True, "yes"]}, "search: model.bidirectional = 'yes' must be true or false"),
    ({"model.units": 64}, "search.model.units = 64 must be a list of values or a range"),
    ({"model.units": {"int": [8, 16], "lg": True}}, "search.model.units: 'lg' is not a range key"),
    ({"data.max_rows": [100, 200]}, "search.data.max_rows cannot be searched: every trial must read the same comments"),
    ({"model.units": [8], "metric": "test_accuracy"}, "search.metric = 'test_accuracy' must be one of val_loss, val_accuracy"),
    ({"model.units": [8], "timeout": 60}, "search.timeout is neither a setting"),
    ({"metric": "val_loss"}, "search names no dotted config key"),
])
def test_search_section_errors_are_one_line_naming_file_and_key(tmp_path, search, error):
    from app.tuning.space import load_tuning_config

    path = write_tuning(tmp_path / "tune.yaml", search)
    with pytest.raises(ConfigError) as caught:
        load_tuning_config(path)
    message = str(caught.value)
    assert message == f"{path}: {error}" or message.startswith(f"{path}: {error}")
    assert "\n" not in message


def test_train_py_refuses_a_bad_search_before_anything_trains(tmp_path, capsys):
    from app.cli.train import main

    path = write_tuning(tmp_path / "tune.yaml", {**SEARCH, "train.learning_rate": {"float": [0, 0.1], "log": True}})
    assert main(["--tune", str(path), "--trials", "3", "--models-dir", str(tmp_path / "models")]) == 2
    assert capsys.readouterr().err.strip() == f"error: {path}: search: train.learning_rate = 0.0 must be > 0"
    assert not (tmp_path / "models").exists()
