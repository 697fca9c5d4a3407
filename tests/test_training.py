"""Training glue: the same seed gives the same model; splits keep class proportions."""

import numpy as np
import pytest

from app.config import EarlyStoppingConfig, ModelConfig, TrainConfig
from app.data.splits import stratified_split
from app.modeling.network import build_model
from app.training.fit import (
    LengthBatches,
    best_epoch,
    fit,
    make_optimizer,
    set_seed,
)


def front_padded(rng, rows, width, vocab_size=30):
    """Random comments of 1..width tokens, padded with 0 at the front like Vocabulary.encode."""
    ids = np.zeros((rows, width), dtype="int32")
    for row, length in enumerate(rng.integers(1, width + 1, size=rows)):
        ids[row, width - length:] = rng.integers(2, vocab_size, size=length)
    return ids


def train_once(seed):
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 30, size=(64, 8)).astype("int32")
    y = (ids[:, -1] > 15).astype("int64")
    set_seed(seed)
    model = build_model(ModelConfig(cell="gru", embedding_dim=4, units=4), 30, 2)
    config = TrainConfig(epochs=2, batch_size=16, seed=seed)
    history = fit(model, (ids[:48], y[:48]), (ids[48:], y[48:]), config, 2)
    return model.predict(ids, verbose=0), history.history


def test_the_same_seed_gives_the_same_model():
    first, history = train_once(7)
    second, _ = train_once(7)
    np.testing.assert_allclose(first, second, atol=1e-6)
    assert set(history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}


def test_length_batches_hold_every_comment_once_and_cut_only_padding():
    rng = np.random.default_rng(1)
    ids = front_padded(rng, 200, 40)
    labels = np.arange(200)  # a label per row says which comment landed where
    batches = LengthBatches(ids, labels, batch_size=16, seed=3)
    seen = np.concatenate([batch_labels for _, batch_labels in batches.batches])
    assert sorted(seen) == list(range(200))
    widths = []
    for batch_ids, batch_labels in batches.batches:
        width = batch_ids.shape[1]
        widths.append(width)
        np.testing.assert_array_equal(batch_ids, ids[batch_labels, 40 - width:])  # the same tokens, right-aligned
        assert (ids[batch_labels, :40 - width] == 0).all()  # only padding was cut
        assert (batch_ids[:, 0] != 0).any()  # and all of it: the longest comment starts the batch
    assert np.mean(widths) < 0.75 * 40  # sorting by length within pools makes most batches narrower


def test_bucketed_batches_are_shuffled_but_validation_goes_shortest_first():
    ids = front_padded(np.random.default_rng(2), 300, 30)
    training = [b.shape[1] for b, _ in LengthBatches(ids, np.zeros(300), 16, seed=0).batches]
    validation = [b.shape[1] for b, _ in LengthBatches(ids, np.zeros(300), 16).batches]
    assert validation == sorted(validation)
    assert training != sorted(training)


def test_stratified_split_keeps_class_proportions_and_is_repeatable():
    labels = np.array([0] * 80 + [1] * 20)
    kept, held_out = stratified_split(labels, 0.1, seed=3)
    assert len(held_out) == 10 and sorted(np.concatenate([kept, held_out])) == list(range(100))
    assert np.bincount(labels[held_out]).tolist() == [8, 2]
    assert stratified_split(labels, 0.1, seed=3)[1].tolist() == held_out.tolist()


def test_gradient_clipping_reaches_the_optimizer():
    optimizer = make_optimizer(TrainConfig(optimizer="sgd", learning_rate=0.5, clipnorm=1.0), steps_per_epoch=10)
    assert optimizer.clipnorm == 1.0 and optimizer.clipvalue is None
    assert make_optimizer(TrainConfig(clipvalue=0.5), steps_per_epoch=10).clipvalue == 0.5


def test_best_epoch_follows_the_monitored_metric():
    history = {"val_loss": [0.5, 0.3, 0.4], "val_accuracy": [0.7, 0.8, 0.9]}
    assert best_epoch(history, "val_loss") == 2
    assert best_epoch(history, "val_accuracy") == 3


def test_gradient_clipping_tames_an_exploding_simple_rnn():
    """The lecture's point: a relu SimpleRNN with a large learning rate explodes to NaN
    (training stops there), and the logged gradient norm shows it coming; the same run
    with clipnorm learns the task."""
    rng = np.random.default_rng(0)
    ids = rng.integers(2, 50, size=(256, 40)).astype("int32")
    y = (ids[:, -1] > 25).astype("int64")

    def history(clipnorm):
        set_seed(1)
        model = build_model(ModelConfig(cell="simple_rnn", activation="relu", embedding_dim=16, units=32), 50, 2)
        # every comment has 40 tokens, so there is nothing to bucket; the plain batch order
        # lets the explosion build up over a few epochs
        config = TrainConfig(optimizer="sgd", learning_rate=5.0, clipnorm=clipnorm, epochs=6, batch_size=32,
                             bucket_by_length=False, early_stopping=EarlyStoppingConfig(enabled=False))
        return fit(model, (ids[:224], y[:224]), (ids[224:], y[224:]), config, 2).history

    exploded = history(None)
    assert np.isnan(exploded["loss"][-1]) and len(exploded["loss"]) < 6  # stopped at the first NaN
    assert exploded["grad_norm"][-2] > 1000 * exploded["grad_norm"][0]  # grown 1000-fold by the epoch before
    clipped = history(0.1)
    assert len(clipped["loss"]) == 6 and all(np.isfinite(clipped["loss"])) and clipped["loss"][-1] < 0.1
    assert max(clipped["grad_norm"]) < 1


def test_train_py_stops_on_nan_with_a_hint_and_saves_nothing(tmp_path, capsys):
    from app.cli import train

    status = train.main(["--config", "tests/tiny.yaml", "--models-dir", str(tmp_path), "--set", "model.cell=simple_rnn",
                         "--set", "model.activation=relu", "--set", "train.optimizer=sgd", "--set", "train.learning_rate=1000",
                         "--set", "train.clipnorm=null", "--set", "model.pooling=last"])
    assert status == 1
    assert "Set train.clipnorm" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_an_interrupted_training_resumes_to_the_same_result(tmp_path, monkeypatch, schedule):
    from app.training.fit import EpochRecorder

    rng = np.random.default_rng(0)
    ids = front_padded(rng, 96, 8)  # comments of different lengths, so the batches are bucketed
    y = (ids[:, -1] > 15).astype("int64")
    config = TrainConfig(epochs=5, batch_size=16, learning_rate=0.01, lr_schedule=schedule,
                         early_stopping=EarlyStoppingConfig(monitor="val_loss", patience=1))

    def run(checkpoint, resume=False):
        set_seed(5)
        model = build_model(ModelConfig(cell="lstm", embedding_dim=4, units=4, dropout=0.3), 30, 2)
        return fit(model, (ids[:80], y[:80]), (ids[80:], y[80:]), config, 2, checkpoint_dir=checkpoint, resume=resume)

    uninterrupted = run(tmp_path / "a")
    saving = EpochRecorder.on_epoch_end

    def interrupt_after_second_epoch(self, epoch, logs=None):
        saving(self, epoch, logs)
        if epoch == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(EpochRecorder, "on_epoch_end", interrupt_after_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "b")
    monkeypatch.undo()
    assert (tmp_path / "b" / "state.json").exists()
    resumed = run(tmp_path / "b", resume=True)
    assert resumed.history.keys() == uninterrupted.history.keys()
    for key, values in uninterrupted.history.items():
        np.testing.assert_allclose(resumed.history[key], values, atol=1e-6, err_msg=key)
    np.testing.assert_allclose(resumed.model.predict(ids, verbose=0), uninterrupted.model.predict(ids, verbose=0), atol=1e-6)
    # finished, the checkpoint stays until the caller has saved the run; resumed again, it trains nothing
    again = run(tmp_path / "b", resume=True)
    np.testing.assert_allclose(again.model.predict(ids, verbose=0), uninterrupted.model.predict(ids, verbose=0), atol=1e-6)


def test_a_kill_while_the_finished_run_is_saved_loses_nothing_that_resume_cannot_finish(tmp_path, monkeypatch):
    from conftest import PROJECT_ROOT

    import app.training.run as run_module
    from app import load_config, train

    config = load_config(PROJECT_ROOT / "tests" / "tiny.yaml", ["train.epochs=2", "model.units=8", "model.embedding_dim=8"])
    save = run_module.save_run

    def killed_while_saving(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(run_module, "save_run", killed_while_saving)
    with pytest.raises(KeyboardInterrupt):
        train(config, models_dir=tmp_path, name="saved")
    checkpoint = run_module.checkpoint_dir(tmp_path, config)
    assert (checkpoint / "state.json").exists() and not (tmp_path / "saved").exists()
    monkeypatch.setattr(run_module, "save_run", save)
    run = train(config, models_dir=tmp_path, name="saved", resume=True)
    assert run.path == tmp_path / "saved" and (run.path / "model.keras").exists()
    assert not checkpoint.exists()  # removed only once the run was in place


def test_bucketed_training_takes_batches_whose_width_changes_late():
    """The first batches of one width must not fix the width for all (a bug Keras's
    shape inference from the first batches caused)."""
    ids = np.zeros((200, 12), dtype="int32")
    ids[:150, -3:] = 5  # the shortest comments: validation's first 9 batches have width 3
    ids[150:, :] = 7  # then full-width ones
    y = np.arange(200) % 2
    set_seed(0)
    model = build_model(ModelConfig(cell="gru", embedding_dim=4, units=4), 10, 2)
    fitted = fit(model, (ids, y), (ids, y), TrainConfig(epochs=1, batch_size=16), 2)
    assert len(fitted.history["val_loss"]) == 1


def test_a_cosine_schedule_warms_up_then_falls_to_zero_at_the_last_epoch():
    config = TrainConfig(learning_rate=0.01, lr_schedule="cosine", warmup=0.1, epochs=4)
    optimizer = make_optimizer(config, steps_per_epoch=25)  # 100 steps, the first 10 warming up

    def rate_at(step):
        optimizer.iterations.assign(step)
        return float(optimizer.learning_rate)

    rates = [rate_at(step) for step in range(101)]
    assert rates[0] == 0 and rates[5] == pytest.approx(0.005) and rates[10] == pytest.approx(0.01)
    assert all(later <= earlier for earlier, later in zip(rates[10:], rates[11:]))
    assert rates[55] == pytest.approx(0.005, abs=1e-4) and rates[100] == pytest.approx(0, abs=1e-9)
    short = make_optimizer(TrainConfig(learning_rate=0.01, lr_schedule="cosine", warmup=0.05, epochs=1), steps_per_epoch=10)
    assert float(short.learning_rate) == 0  # 5% of 10 steps still warms up, over one step
    constant = make_optimizer(TrainConfig(learning_rate=0.01), steps_per_epoch=25)
    constant.iterations.assign(50)
    assert float(constant.learning_rate) == pytest.approx(0.01)


def test_the_history_records_each_epochs_learning_rate():
    rng = np.random.default_rng(0)
    ids = front_padded(rng, 64, 8)
    y = (ids[:, -1] > 15).astype("int64")

    def rates(schedule):
        set_seed(1)
        model = build_model(ModelConfig(cell="gru", embedding_dim=4, units=4), 30, 2)
        config = TrainConfig(epochs=3, batch_size=16, learning_rate=0.01, lr_schedule=schedule,
                             early_stopping=EarlyStoppingConfig(enabled=False))
        return fit(model, (ids[:48], y[:48]), (ids[48:], y[48:]), config, 2).history["learning_rate"]

    assert rates("constant") == pytest.approx([0.01] * 3)
    cosine = rates("cosine")  # 3 steps an epoch, 9 in all: cos(pi/3), cos(2pi/3), end
    assert cosine == pytest.approx([0.0075, 0.0025, 0.0], abs=1e-6)


def test_probability_targets_take_the_form_of_the_models_output():
    from app.modeling.losses import probability_targets

    np.testing.assert_array_equal(probability_targets(np.array([0, 1, 1]), 2), [0.0, 1.0, 1.0])
    np.testing.assert_array_equal(probability_targets(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])


def test_accuracy_on_a_teachers_probabilities_counts_its_likelier_class():
    from app.modeling.losses import rounded_binary_accuracy

    teacher = np.array([0.93, 0.2, 0.6, 0.45], dtype="float32")
    predicted = np.array([[0.7], [0.1], [0.3], [0.9]], dtype="float32")
    assert float(np.mean(rounded_binary_accuracy(teacher, predicted))) == pytest.approx(0.5)


def test_a_model_trains_on_probability_targets():
    rng = np.random.default_rng(0)
    ids = front_padded(rng, 64, 8)
    soft = np.clip((ids[:, -1] - 2) / 28, 0.05, 0.95).astype("float32")  # a teacher's probabilities
    set_seed(0)
    model = build_model(ModelConfig(cell="gru", embedding_dim=4, units=4), 30, 2)
    history = fit(model, (ids[:48], soft[:48]), (ids[48:], (soft[48:] > 0.5).astype("float32")),
                  TrainConfig(epochs=3, batch_size=16, learning_rate=0.02), 2).history
    assert all(np.isfinite(history["loss"])) and history["loss"][-1] < history["loss"][0]
    assert 0 < history["accuracy"][-1] <= 1  # the likelier class counts as right
