"""A hyperparameter search: an Optuna study over a tuning config's search space,
stored in SQLite under models/<study>/, so it survives Ctrl-C and continues with
``resume``.

    tuning = load_tuning_config("configs/tune.yaml")
    result = tune(tuning, trials=30, models_dir="models")         # models/tune/
    result = tune(tuning, trials=30, resume=True)                 # after a Ctrl-C

Each trial trains one config with train_model on data prepared once (PreparedData),
reports its validation metric after every epoch and is pruned when it is clearly
worse than the finished trials were at that epoch. The test set is never scored
during the search: at the end the best config is written as best.yaml, trained
from that file once more (the seed makes it the same model) and saved as a run
with its test metrics, and report.html shows the study.

    models/<study>/
      study.db          the Optuna study (SQLite): every trial, its values and epochs
      tuning.yaml       the tuning config the study was started with
      best.yaml         the best config: python train.py --config models/<study>/best.yaml
      best-trial-<N>/   the best trial's model, saved as a run (with test metrics)
      results.json      the trials, the best one, its test metrics, the importances
      report.html       the trials table, figures and best config, offline
"""

import contextlib
import dataclasses
import fcntl
import json
import logging
import math
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import optuna
import yaml
from optuna.trial import FrozenTrial, TrialState

from app.artifacts.run import SavedRun, check_run_name
from app.config import Config, load_config
from app.errors import BundleError, ConfigError, InputError, TrainingFailed, one_line
from app.files import AtomicDirectory
from app.training.fit import best_epoch
from app.training.run import Prepared, prepare_data, save_run, train_model
from app.tuning.space import TuningConfig

log = logging.getLogger(__name__)

STUDY_FILE = "study.db"
FAILURE = "failure"  # user attribute: why a trial failed (it counts as run)
INTERRUPTED = "interrupted"  # user attribute: a trial stopped by Ctrl-C or a crash (not counted: resume runs another)
STATES = ("complete", "pruned", "failed", "interrupted")


@dataclass
class StudyResult:
    """What a finished study gives: where it is, its best trial and that trial's saved run."""

    directory: Path
    best: FrozenTrial
    best_config: Path  # best.yaml
    run: SavedRun  # the best config's model, with test metrics
    counts: dict  # state name -> trials (complete, pruned, failed)
    report: Path


def tune(tuning: TuningConfig, trials: int, *, models_dir: str | os.PathLike = "models", name: str | None = None,
         resume: bool = False, command: str = "", callbacks: Sequence[keras.callbacks.Callback] = ()) -> StudyResult:
    """Run the study until it holds ``trials`` finished trials (complete, pruned or
    failed), or the search's timeout_minutes pass, then write its results.

    ``name`` (default: the tuning config's file name) is the study's directory under
    ``models_dir``; ``resume`` continues the study there, which a new one must not
    find. ``command`` is shown in the report; ``callbacks`` are Keras callbacks every
    trial's training gets too. Raises ConfigError (the tuning config differs from the
    study's, no study to resume), TrainingFailed (no trial completed), and
    KeyboardInterrupt with every finished trial kept.
    """
    name = check_run_name(name or tuning.path.stem)
    directory = Path(models_dir) / name
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the trials are logged here, in this project's words
    with _only_process(directory, resume):
        study = open_study(tuning, directory, name, resume)
        data = PreparedData()
        if counted(study) < trials:
            data.for_config(tuning.base)  # read and tokenized once, before the first trial
        run_trials(study, tuning, trials, data, callbacks)
        return finish(study, tuning, directory, data, command)


@contextlib.contextmanager
def _only_process(directory: Path, resume: bool) -> Iterator[None]:
    """Holds models/<study>/study.lock while the study runs: a second process on the
    same study is refused instead of racing it."""
    if not resume and directory.exists():
        held = "a study" if (directory / STUDY_FILE).exists() else "no study"
        raise ConfigError(f"{directory} exists and holds {held}; "
                          + ("--resume continues it, or " if held == "a study" else "") + "--name starts another")
    if resume and not (directory / STUDY_FILE).exists():
        raise ConfigError(f"{directory}: no study to resume (without --resume a new one starts)")
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "study.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(f"{directory}: another process is running this study") from None
        yield


def open_study(tuning: TuningConfig, directory: Path, name: str, resume: bool) -> optuna.Study:
    """The study in ``directory``/study.db: created, or loaded and checked to have the
    same config and search. Trials a killed process left running are marked interrupted."""
    storage = optuna.storages.RDBStorage(f"sqlite:///{(directory / STUDY_FILE).resolve()}")
    identity = tuning.study_identity()
    if resume:
        study = optuna.load_study(study_name=name, storage=storage)
        _check_same_search(tuning, study.user_attrs.get("identity"), directory)
        for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):  # _trial_id: the storage's key
            storage.set_trial_user_attr(trial._trial_id, INTERRUPTED, "the process ended during the trial")
            storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
    else:
        study = optuna.create_study(storage=storage, study_name=name, direction=tuning.direction)
        study.set_user_attr("identity", identity)
        baseline = tuning.baseline()
        if baseline:
            study.enqueue_trial(baseline, user_attrs={"baseline": True})
        else:
            log.info("the config as written has a searched value outside the search space: no baseline trial")
        with AtomicDirectory(directory, mode="merge") as staging:
            (staging / "tuning.yaml").write_text(_yaml({**tuning.raw, "search": tuning.search}), encoding="utf-8")
    # seeded by the trials so far: a resumed study draws new values, not the first session's again
    study.sampler = optuna.samplers.TPESampler(seed=tuning.base.train.seed + len(study.trials),
                                               n_startup_trials=tuning.startup_trials)
    study.pruner = (optuna.pruners.MedianPruner(n_startup_trials=tuning.startup_trials)
                    if tuning.pruner == "median" else optuna.pruners.NopPruner())
    return study


def _check_same_search(tuning, identity, directory):
    """ConfigError naming the first key where ``tuning`` differs from the study's."""
    mine = tuning.study_identity()
    if identity == mine:
        return
    ours, theirs = _dotted(mine), _dotted(identity or {})
    key = next(k for k in sorted(ours.keys() | theirs.keys()) if ours.get(k) != theirs.get(k))
    raise ConfigError(f"{tuning.path}: {key} is {ours.get(key)!r} here but {theirs.get(key)!r} in the study in "
                      f"{directory} (its tuning.yaml); a study keeps one config and search: --name starts another")


def _dotted(identity):
    """A study identity as dotted keys: model.units, search.model.units..."""
    return {**_flatten(identity.get("config", {})), **{f"search.{k}": v for k, v in identity.get("search", {}).items()}}


def _flatten(tree, prefix=""):
    """{"a": {"b": 1}} -> {"a.b": 1}."""
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


class PreparedData:
    """prepare_data once for each way of reading and tokenizing the comments: trials
    that differ only in the vocabulary, model or training share it, and a trial with
    another tokenizer re-tokenizes (through the token cache)."""

    def __init__(self) -> None:
        self._prepared: dict[str, Prepared] = {}

    def for_config(self, config: Config) -> Prepared:
        """The prepared data ``config`` trains on."""
        settings = {section: dataclasses.asdict(getattr(config, section)) for section in ("data", "tokenizer", "pretrain")}
        settings["seed"] = config.train.seed  # it draws data.max_rows and the test split
        if config.pretrain.unlabeled:
            settings["embedding_dim"] = config.model.embedding_dim  # the word vectors' size
        key = json.dumps(settings, sort_keys=True)
        if key not in self._prepared:
            self._prepared[key] = prepare_data(config)
        return self._prepared[key]


class PruneOnEpoch(keras.callbacks.Callback):
    """Reports the trial's metric after every epoch and raises optuna.TrialPruned when
    the pruner finds it clearly worse than the finished trials were at that epoch."""

    def __init__(self, trial: optuna.Trial, metric: str) -> None:
        super().__init__()
        self.trial, self.metric = trial, metric

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """Report the epoch's value; prune if the pruner says so."""
        logs = logs or {}
        value, loss = logs.get(self.metric), logs.get("loss", 0.0)
        if value is None or not math.isfinite(value) or not math.isfinite(loss):
            return  # a diverging trial fails (TrainingDiverged), it is not pruned
        self.trial.report(float(value), step=epoch + 1)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"{self.metric} {value:.4f} after epoch {epoch + 1}")


def counted(study: optuna.Study) -> int:
    """Trials that count towards ``trials``: complete, pruned, or failed (diverged, say),
    but not those interrupted, which a resumed study runs again."""
    return sum(state_of(t) in ("complete", "pruned", "failed") for t in study.get_trials(deepcopy=False))


def run_trials(study: optuna.Study, tuning: TuningConfig, trials: int, data: PreparedData,
               callbacks: Sequence[keras.callbacks.Callback] = ()) -> None:
    """Ask, train and tell until the study holds ``trials`` counted trials or the timeout passes.

    A pruned trial is told PRUNED; one that diverges or whose values the schema or the
    data refuse is told FAIL with the reason, and the study goes on; Ctrl-C (or any
    other exception) marks the running trial interrupted and is raised.
    """
    done, started = counted(study), time.monotonic()
    if done >= trials:
        log.info(f"the study holds {done} trials already (--trials {trials})")
    while done < trials:
        if tuning.timeout_minutes and time.monotonic() - started > tuning.timeout_minutes * 60:
            log.info(f"search.timeout_minutes ({tuning.timeout_minutes:g}) passed: no new trial starts "
                     f"({done} of {trials} trials; --resume continues)")
            break
        trial = study.ask()
        try:
            values = {dimension.key: dimension.suggest(trial) for dimension in tuning.dimensions}
            log.info(f"\n=== trial {trial.number} ({done + 1}/{trials}): "
                     + ", ".join(f"{key}={_shown(value)}" for key, value in values.items())
                     + (" (the config as written)" if trial.user_attrs.get("baseline") else ""))
            value = _train_trial(trial, tuning, values, data, callbacks)
        except optuna.TrialPruned as pruned:
            study.tell(trial, state=TrialState.PRUNED)
            log.info(f"trial {trial.number} pruned: {pruned}")
        except (InputError, TrainingFailed) as error:
            trial.set_user_attr(FAILURE, one_line(error))
            study.tell(trial, state=TrialState.FAIL)
            log.warning(f"trial {trial.number} failed: {one_line(error)}; the study goes on")
        except BaseException as error:  # Ctrl-C, SIGTERM, a bug: not a result of the trial's values
            trial.set_user_attr(INTERRUPTED, type(error).__name__)
            study.tell(trial, state=TrialState.FAIL)
            raise
        else:
            study.tell(trial, value)
            best = study.best_trial
            log.info(f"trial {trial.number}: {tuning.metric} {value:.4f}; best so far: trial {best.number} "
                     f"({best.value:.4f})")
        done += 1


def _train_trial(trial, tuning, values, data, callbacks):
    """Train one trial's config without scoring the test set; its metric at the epoch kept."""
    config = tuning.trial_config(values)
    prepared = data.for_config(config)
    with _quiet_training():
        trained = train_model(config, prepared, callbacks=[PruneOnEpoch(trial, tuning.metric), *callbacks],
                              score_test=False)
    history = trained.history
    kept = kept_epoch(history, config)
    trial.set_user_attr("epochs", len(history["loss"]))
    trial.set_user_attr("kept_epoch", kept)
    for metric in ("val_loss", "val_accuracy"):
        trial.set_user_attr(metric, history[metric][kept - 1])
    value = history[tuning.metric][kept - 1]
    if not math.isfinite(value):
        raise TrainingFailed(f"{tuning.metric} is {value} at epoch {kept}")
    return value


def kept_epoch(history: dict, config: Config) -> int:
    """The 1-based epoch whose weights training kept: early stopping's best, else the last."""
    stopping = config.train.early_stopping
    return best_epoch(history, stopping.monitor) if stopping.enabled else len(history["loss"])


@contextlib.contextmanager
def _quiet_training():
    """A trial's vocabulary and parameter table are noise thirty times over: only the
    training's warnings are shown (Keras still prints each epoch)."""
    logger = logging.getLogger("app.training")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _shown(value):
    return f"{value:.3g}" if isinstance(value, float) else str(value)


# ----------------------------------------------------------------------------- the end of a study

def finish(study: optuna.Study, tuning: TuningConfig, directory: Path, data: PreparedData, command: str) -> StudyResult:
    """Write best.yaml, train it and save the run (its test metrics, once), results.json and report.html."""
    from app.tuning.report import importances, write_report

    trials = study.get_trials(deepcopy=False)
    counts = {state: sum(state_of(t) == state for t in trials) for state in STATES}
    if not counts["complete"]:
        raise TrainingFailed(f"{directory}: no trial completed ({counts['pruned']} pruned, {counts['failed']} failed): "
                             "no best config; --resume with more --trials runs more")
    best = study.best_trial
    config = dataclasses.replace(tuning.trial_config(best.params), name=f"{directory.name}-best")
    header = (f"# The best config of the study in {directory} (trial {best.number}, {tuning.metric} {best.value:.4f} "
              f"on validation).\n# Train it: python train.py --config {directory / 'best.yaml'}\n")
    with AtomicDirectory(directory, mode="merge") as staging:
        (staging / "best.yaml").write_text(header + _yaml(config.to_dict()), encoding="utf-8")
    config = load_config(directory / "best.yaml")  # what `train.py --config` reads
    run = _best_run(directory, best, config, data)
    ranking = importances(study)
    summary = {
        "study": directory.name,
        "metric": tuning.metric,
        "direction": tuning.direction,
        "counts": counts,
        "search": {d.key: d.describe() for d in tuning.dimensions},
        "best": {"trial": best.number, "value": best.value, "params": best.params, "config": str(directory / "best.yaml"),
                 "run": str(run.path), "test": {k: run.metrics.get(k) for k in ("accuracy", "macro_f1", "roc_auc", "n")}},
        "importances": ranking,
        "trials": [trial_row(t) for t in trials],
    }
    with AtomicDirectory(directory, mode="merge") as staging:
        (staging / "results.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
        write_report(study, summary, (directory / "best.yaml").read_text(encoding="utf-8"), staging, command)
    log.info(f"\n{counts['complete']} trials complete, {counts['pruned']} pruned, {counts['failed']} failed; best: "
             f"trial {best.number}, {tuning.metric} {best.value:.4f} ("
             + ", ".join(f"{key}={_shown(value)}" for key, value in best.params.items()) + ")")
    test = summary["best"]["test"]
    log.info(f"the best config on the test set (scored once, after the search): accuracy {test['accuracy']:.4f}, "
             f"macro-F1 {test['macro_f1']:.4f}")
    return StudyResult(directory, best, directory / "best.yaml", run, counts, directory / "report.html")


def _best_run(directory, best, config, data):
    """The best trial's config trained once more and saved as a run, test metrics
    included; a run saved for this trial before (an earlier session) is read back."""
    path = directory / f"best-trial-{best.number}"
    if path.is_dir():
        run = SavedRun.load(path)
        if run.config != config:
            raise BundleError(f"{path} was not trained from {directory / 'best.yaml'}; move it away and --resume again")
        log.info(f"the best trial's run is saved already: {path}")
        return run
    log.info(f"\n=== the best config (trial {best.number}) once more, saved as a run with its test metrics")
    prepared = data.for_config(config)
    trained = train_model(config, prepared)
    return save_run(directory, path.name, config, prepared, trained)


def state_of(trial: FrozenTrial) -> str:
    """One of STATES: complete, pruned, failed (it counts), interrupted (it does not), running."""
    if trial.state == TrialState.FAIL:
        return "interrupted" if INTERRUPTED in trial.user_attrs else "failed"
    return trial.state.name.lower()


def trial_row(trial: FrozenTrial) -> dict:
    """A trial as plain data: its number, state, value, parameters and what it trained."""
    attrs = trial.user_attrs
    return {
        "trial": trial.number,
        "state": state_of(trial),
        "value": trial.value,
        "last_epoch": trial.last_step,  # the last epoch it reported (a pruned trial's too)
        "last_reported": trial.intermediate_values.get(trial.last_step) if trial.last_step else None,
        "epochs": attrs.get("epochs"),
        "kept_epoch": attrs.get("kept_epoch"),
        "val_loss": attrs.get("val_loss"),
        "val_accuracy": attrs.get("val_accuracy"),
        "seconds": round(trial.duration.total_seconds(), 1) if trial.duration else None,  # pruned ones too
        "failure": attrs.get(FAILURE) or attrs.get(INTERRUPTED),
        "baseline": bool(attrs.get("baseline")),
        "params": trial.params,
        "intermediate": {str(step): value for step, value in sorted(trial.intermediate_values.items())},
    }


def _yaml(data: dict) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
