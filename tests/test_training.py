"""Training glue: the same seed gives the same model; splits keep class proportions."""

import numpy as np

from app.config import ModelConfig, TrainConfig
from app.models import build_model
from app.training import best_epoch, fit, make_optimizer, set_seed, stratified_split


def train_once(seed):
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 30, size=(64, 8)).astype("int32")
    y = (ids[:, -1] > 15).astype("int64")
    set_seed(seed)
    model = build_model(ModelConfig(cell="gru", embedding_dim=4, units=4), 30, 2, 8)
    config = TrainConfig(epochs=2, batch_size=16, seed=seed)
    history = fit(model, (ids[:48], y[:48]), (ids[48:], y[48:]), config, 2)
    return model.predict(ids, verbose=0), history.history


def test_the_same_seed_gives_the_same_model():
    first, history = train_once(7)
    second, _ = train_once(7)
    np.testing.assert_allclose(first, second, atol=1e-6)
    assert set(history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}


def test_stratified_split_keeps_class_proportions_and_is_repeatable():
    labels = np.array([0] * 80 + [1] * 20)
    kept, held_out = stratified_split(labels, 0.1, seed=3)
    assert len(held_out) == 10 and sorted(np.concatenate([kept, held_out])) == list(range(100))
    assert np.bincount(labels[held_out]).tolist() == [8, 2]
    assert stratified_split(labels, 0.1, seed=3)[1].tolist() == held_out.tolist()


def test_gradient_clipping_reaches_the_optimizer():
    optimizer = make_optimizer(TrainConfig(optimizer="sgd", learning_rate=0.5, clipnorm=1.0))
    assert optimizer.clipnorm == 1.0 and optimizer.clipvalue is None
    assert make_optimizer(TrainConfig(clipvalue=0.5)).clipvalue == 0.5


def test_best_epoch_follows_the_monitored_metric():
    history = {"val_loss": [0.5, 0.3, 0.4], "val_accuracy": [0.7, 0.8, 0.9]}
    assert best_epoch(history, "val_loss") == 2
    assert best_epoch(history, "val_accuracy") == 3
