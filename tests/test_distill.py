"""Distillation (distill: in a config): a teacher labels unlabeled comments, the saved
model learns from its probabilities too, and only that model is saved."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from app.training.fit import EpochRecorder

# the quick config, distilling on the three-class sample's comments as a user's unlabeled
# ones; bidirectional, whose weights' paths change when a resumed teacher is loaded again
DISTILL = ["--config", "tests/tiny.yaml", "--set", "model.bidirectional=true", "--set", "distill.unlabeled=data/sample_3class.tsv",
           "--set", "distill.epochs=2", "--set", "train.epochs=3", "--set", "train.early_stopping.enabled=false"]


def train(models_dir, name, *extra):
    from app.cli import train as train_py

    return train_py.main([*DISTILL, "--models-dir", str(models_dir), "--name", name, *extra])


def test_train_py_distils_a_teacher_into_one_saved_model(tmp_path):
    from app.artifacts.run import SavedRun
    from app.inference.classifier import Classifier

    assert train(tmp_path, "distilled", "--set", "distill.max_rows=120") == 0
    run = tmp_path / "distilled"
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    teacher = metrics["distill"]
    assert teacher["unlabeled_comments"] == 120  # a random part (max_rows)
    for key in ("teacher_accuracy", "teacher_recurrent_accuracy", "teacher_ngram_accuracy"):
        assert 0 <= teacher[key] <= 1
    assert teacher["teacher_seconds"] > 0
    assert metrics["epochs_run"] == 2  # the student trains for distill.epochs, the teacher for train.epochs
    assert sorted(p.name for p in tmp_path.iterdir()) == ["distilled"]  # no checkpoint left behind

    bundle = SavedRun.load(run)  # Keras safe mode: the student alone, no scikit-learn object
    probabilities, status = Classifier(bundle).predict_proba(["배우들 연기가 정말 좋았어요", "최악의 영화"])
    assert list(status) == ["ok", "ok"] and np.allclose(probabilities.sum(axis=1), 1)


@pytest.fixture
def fitted_weights(monkeypatch):
    """(starts, ends): each fitted model's weights before and after its fit, in order
    (the teacher's, then the student's)."""
    from app.training import fit as fit_module

    fitting, starts, ends = fit_module.fit, [], []

    def recording_fit(model, *args, **kwargs):
        starts.append(model.get_weights())
        fitted = fitting(model, *args, **kwargs)
        ends.append(fitted.model.get_weights())
        return fitted

    monkeypatch.setattr(fit_module, "fit", recording_fit)
    return starts, ends


@pytest.mark.parametrize("warm_start", [True, False])
def test_the_student_starts_from_the_teachers_weights_or_afresh(tmp_path, fitted_weights, warm_start):
    starts, ends = fitted_weights
    assert train(tmp_path, "run", "--set", f"distill.warm_start={str(warm_start).lower()}") == 0
    teacher_end, student_start = ends[0], starts[1]
    same = all(np.array_equal(a, b) for a, b in zip(teacher_end, student_start))
    assert same == warm_start


def test_a_student_with_the_unlabeled_words_starts_reading_as_the_teacher(tmp_path, monkeypatch, fitted_weights):
    """distill.unlabeled_vocabulary: the student's vocabulary also counts the unlabeled
    comments; a token only they hold starts as the teacher's OOV vector, every other
    weight as the teacher's."""
    from app.text.vocab import OOV, Vocabulary

    (starts, ends), vocabularies = fitted_weights, []
    fit_vocabulary = Vocabulary.fit.__func__

    def recording_vocabulary(cls, *args, **kwargs):
        vocabularies.append(fit_vocabulary(cls, *args, **kwargs))
        return vocabularies[-1]

    monkeypatch.setattr(Vocabulary, "fit", classmethod(recording_vocabulary))
    assert train(tmp_path, "run", "--set", "distill.unlabeled_vocabulary=true") == 0
    teacher_vocab, student_vocab = vocabularies
    assert len(student_vocab) > len(teacher_vocab)  # the unlabeled comments' words joined
    (teacher_embedding, *teacher_rest), (student_embedding, *student_rest) = ends[0], starts[1]
    assert all(np.array_equal(a, b) for a, b in zip(teacher_rest, student_rest, strict=True))
    for i, token in enumerate(student_vocab.tokens):
        teacher_row = teacher_vocab.index.get(token, teacher_vocab.index[OOV])
        np.testing.assert_array_equal(student_embedding[i], teacher_embedding[teacher_row])


def test_a_deeper_teacher_hands_its_first_layer_to_a_one_layer_student(tmp_path, fitted_weights):
    """distill.teacher_layers: the teacher stacks two layers, the saved student one; the
    student starts with the teacher's embedding and first layer, its output afresh."""
    from app.artifacts.run import SavedRun

    starts, ends = fitted_weights
    assert train(tmp_path, "run", "--set", "distill.teacher_layers=2") == 0
    teacher_end, student_start = ends[0], starts[1]
    # embedding, then each direction's kernel, recurrent kernel and bias per layer, then the output's two
    assert (len(teacher_end), len(student_start)) == (1 + 12 + 2, 1 + 6 + 2)
    assert all(np.array_equal(a, b) for a, b in zip(teacher_end[:7], student_start[:7], strict=True))
    assert not np.array_equal(teacher_end[-2], student_start[-2])  # the output read the second layer's states
    saved = SavedRun.load(tmp_path / "run")
    assert saved.config.model.layers == 1 and saved.config.distill.teacher_layers == 2
    assert [layer.name for layer in saved.model.layers if "lstm" in layer.name] == ["bidirectional_lstm_1"]


def test_a_teacher_of_three_seeds_averages_three_models_fitted_on_the_same_rows(tmp_path, monkeypatch, fitted_weights):
    """distill.teacher_seeds: the recurrent half is the mean of models of seeds
    train.seed, +1, +2, each fitted and validated on the same labeled rows; the student
    starts from the first one's weights."""
    from app.training import run as run_module

    starts, ends = fitted_weights
    training, calls = run_module.train_model, []

    def recording_train_model(config, prepared, **kwargs):
        calls.append((config.train.seed, kwargs.get("rows")))
        return training(config, prepared, **kwargs)

    monkeypatch.setattr(run_module, "train_model", recording_train_model)
    assert train(tmp_path, "run", "--set", "distill.teacher_seeds=3") == 0
    teachers = [(seed, rows) for seed, rows in calls if rows is not None]
    assert [seed for seed, _ in teachers] == [42, 43, 44]  # tests/tiny.yaml's train.seed, +1, +2
    (_, (fit_rows, val_rows)), *others = teachers
    assert len(np.intersect1d(fit_rows, val_rows)) == 0
    for _, (member_fit, member_val) in others:
        np.testing.assert_array_equal(member_fit, fit_rows)
        np.testing.assert_array_equal(member_val, val_rows)
    assert len(ends) == 4  # three teachers' fits, then the student's
    assert not all(np.array_equal(a, b) for a, b in zip(ends[0], ends[1]))  # another seed, another model
    assert all(np.array_equal(a, b) for a, b in zip(ends[0], starts[3]))
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["distill"]["teacher_recurrent_models"] == 3


def test_a_teacher_mix_of_null_gives_the_better_half_more_weight():
    """distill.teacher_mix: null picks the recurrent half's share on the validation rows,
    given at least MIX_MIN_ROWS of each class."""
    from types import SimpleNamespace

    from app.training.distill import _mix_on_validation

    y = np.array([0, 1] * 20)
    prepared = SimpleNamespace(y=y, tokens=[[str(v)] for v in y], texts=[str(v) for v in y],
                               labels=SimpleNamespace(names=["0", "1"]))
    val_rows = np.arange(20, 40)
    right = np.eye(2)[y[20:]] * 0.9 + 0.05
    wrong = 1 - right

    class Linear:
        def __init__(self, probabilities):
            self.probabilities = probabilities

        def predict_proba(self, texts):
            return self.probabilities

    assert _mix_on_validation(prepared, val_rows, Linear(wrong), lambda tokens: right) == 1.0
    assert _mix_on_validation(prepared, val_rows, Linear(right), lambda tokens: wrong) == 0.0
    assert _mix_on_validation(prepared, val_rows, Linear(right), lambda tokens: right) in np.round(np.linspace(0, 1, 11), 1)
    # a Keras softmax is float32, its rows summing to 1 within 1e-7: chosen without sklearn's warning
    softmax = (right + np.float32(1e-7) * (y[20:, None] == 0)).astype("float32")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _mix_on_validation(prepared, val_rows, Linear(wrong), lambda tokens: softmax) == 1.0
    # 9 validation rows of a class are too few to choose on: the even mean
    few = np.arange(22, 40)
    assert _mix_on_validation(prepared, few, Linear(right[2:]), lambda tokens: wrong[2:]) == 0.5


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    models_dir = tmp_path_factory.mktemp("uninterrupted")
    assert train(models_dir, "uninterrupted") == 0
    return pd.read_csv(models_dir / "uninterrupted" / "history.csv")


@pytest.mark.parametrize("phase, checkpointed", [("teacher", True), ("student", True), ("student", False)])
def test_an_interrupted_distillation_resumes_to_the_same_model(tmp_path, monkeypatch, capsys, uninterrupted, phase,
                                                               checkpointed):
    """Ctrl-C after the first epoch of the teacher or of the student; --resume goes on
    from there (the teacher's probabilities are not recomputed once the student started).
    Interrupted before its first epoch is checkpointed, the student starts again from
    the teacher's weights as saved with its probabilities."""
    saving = EpochRecorder.on_epoch_end

    def interrupt_in_the_first_epoch_of_the_phase(self, epoch, logs=None):
        in_phase = self.directory is not None and self.directory.name == phase
        if in_phase and not checkpointed:
            raise KeyboardInterrupt
        saving(self, epoch, logs)
        if in_phase:
            raise KeyboardInterrupt

    monkeypatch.setattr(EpochRecorder, "on_epoch_end", interrupt_in_the_first_epoch_of_the_phase)
    assert train(tmp_path, "resumed") == 130  # Ctrl-C
    monkeypatch.undo()
    assert "the work completed so far is kept" in capsys.readouterr().err
    assert train(tmp_path, "resumed", "--resume") == 0
    output = capsys.readouterr().out
    if phase == "student":
        assert "teacher: its probabilities for 300 unlabeled comments read from" in output
        assert "=== teacher" not in output
    else:
        assert "=== teacher" in output and "Epoch 1/3" not in output  # the teacher went on from epoch 2

    resumed = pd.read_csv(tmp_path / "resumed" / "history.csv")
    assert list(resumed.columns) == list(uninterrupted.columns) and len(resumed) == 2
    np.testing.assert_allclose(resumed.to_numpy(), uninterrupted.to_numpy(), atol=1e-6)
    assert not (tmp_path / ".checkpoints").exists()


def test_a_three_class_model_distils_on_probability_rows(tmp_path):
    from app.cli import train as train_py

    status = train_py.main(["--config", "configs/quick3.yaml", "--models-dir", str(tmp_path), "--name", "three",
                            "--set", "distill.unlabeled=data/sample_binary.tsv", "--set", "distill.epochs=2",
                            "--set", "train.epochs=2"])
    assert status == 0
    metrics = json.loads((tmp_path / "three" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["distill"]["unlabeled_comments"] == 320 and metrics["epochs_run"] <= 2
    history = pd.read_csv(tmp_path / "three" / "history.csv")
    assert history["accuracy"].between(0, 1).all() and np.isfinite(history["loss"]).all()


def test_a_missing_unlabeled_file_for_distillation_is_one_clear_line(tmp_path, capsys):
    from app.cli import train as train_py

    status = train_py.main(["--config", "tests/tiny.yaml", "--models-dir", str(tmp_path),
                            "--set", "distill.unlabeled=no/such/comments.txt"])
    assert status == 2
    assert capsys.readouterr().err.strip().splitlines() == ["error: distill.unlabeled: no/such/comments.txt: file not found"]
    assert not list(tmp_path.iterdir())


def test_without_the_nsmc_unlabeled_file_distillation_warns_and_trains_one_model(tmp_path, monkeypatch, capsys):
    import app.paths

    nsmc = tmp_path / "nsmc"  # e9t's labeled files, copied by hand: the full corpus without its unlabeled part
    nsmc.mkdir()
    (nsmc / "ratings_train.txt").write_text("id\tdocument\tlabel\n", encoding="utf-8")
    monkeypatch.setattr(app.paths, "nsmc_dirs", lambda: [nsmc])
    assert train(tmp_path, "plain", "--set", "distill.unlabeled=nsmc:unlabeled") == 0
    assert "training without distillation" in capsys.readouterr().err
    metrics = json.loads((tmp_path / "plain" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["distill"] is None and metrics["epochs_run"] == 3  # train.epochs: no student

