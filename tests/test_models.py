"""Parameter counts: Keras's own numbers against the closed-form formulas of the lectures."""

import keras
import numpy as np
import pytest
from keras import layers

from app.config import ModelConfig
from app.modeling.layers import MaskedGlobalAveragePooling1D, MaskedGlobalMaxPooling1D
from app.modeling.network import build_model
from app.modeling.parameters import parameter_table, recurrent_parameters


def counts(model):
    return {row["layer"]: (row["params"], row["expected"], row["agrees"]) for row in parameter_table(model)}


def test_lecture_simple_rnn_numbers():
    model = keras.Sequential([
        keras.Input((20, 6)),
        layers.SimpleRNN(16, return_sequences=True, name="rnn16"),
        layers.SimpleRNN(32, name="rnn32"),
        layers.Dense(1, name="out"),
    ])
    table = counts(model)
    assert table["rnn16"] == (368, 368, True)
    assert table["rnn32"] == (1_568, 1_568, True)
    assert table["out"] == (33, 33, True)


def test_lecture_lstm_numbers():
    model = keras.Sequential([
        keras.Input((21, 1)),
        layers.LSTM(16, return_sequences=True, name="lstm16"),
        layers.LSTM(32, return_sequences=True, name="lstm32"),
        layers.Flatten(name="flat"),
        layers.Dense(1, name="out"),
    ])
    table = counts(model)
    assert table["lstm16"] == (1_152, 1_152, True)
    assert table["lstm32"] == (6_272, 6_272, True)
    assert table["flat"] == (0, 0, True)
    assert table["out"] == (673, 673, True)


@pytest.mark.parametrize("units, features", [(16, 6), (32, 16), (128, 128)])
def test_lstm_is_four_simple_rnns_and_gru_matches_reset_after_formula(units, features):
    def recurrent(cell):
        model = keras.Sequential([keras.Input((10, features)), cell(units)])
        return parameter_table(model)[0]

    simple, lstm, gru = recurrent(layers.SimpleRNN), recurrent(layers.LSTM), recurrent(layers.GRU)
    assert lstm["params"] == 4 * simple["params"]
    assert gru["params"] == 3 * (units * (features + units) + 2 * units)
    assert gru["formula"] == "3(u(i+u)+2u)" and gru["agrees"]


def test_gru_without_reset_after_uses_its_own_formula():
    model = keras.Sequential([keras.Input((5, 4)), layers.GRU(8, reset_after=False)])
    row = parameter_table(model)[0]
    assert row["formula"] == "3u(i+u+1)" and row["params"] == 3 * 8 * (4 + 8 + 1) and row["agrees"]


@pytest.mark.parametrize("cell", ["simple_rnn", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional, pooling, layers_count", [(False, "last", 1), (True, "max_mean", 2)])
def test_every_built_model_agrees_with_the_formulas(cell, bidirectional, pooling, layers_count):
    config = ModelConfig(cell=cell, embedding_dim=6, units=5, layers=layers_count, bidirectional=bidirectional,
                         pooling=pooling, head_units=4)
    model = build_model(config, vocab_size=50, num_classes=3)
    table = parameter_table(model)
    assert all(row["agrees"] for row in table), table
    assert sum(row["params"] for row in table) == model.count_params()
    assert recurrent_parameters(table) > 0


def test_binary_models_end_in_one_sigmoid_unit_and_multiclass_in_softmax():
    config = ModelConfig(cell="gru", embedding_dim=4, units=4)
    binary = build_model(config, 20, 2)
    three = build_model(config, 20, 3)
    assert binary.output_shape == (None, 1)
    assert three.output_shape == (None, 3)
    probabilities = three.predict(np.array([[0, 0, 2, 3, 4]]), verbose=0)
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-5)


def test_masked_max_pooling_ignores_padding_steps():
    values = np.array([[[9.0, 9.0], [-3.0, -1.0], [-2.0, -5.0]]], dtype="float32")
    mask = np.array([[False, True, True]])
    pooled = MaskedGlobalMaxPooling1D()(values, mask=mask)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(pooled), [[-2.0, -1.0]])
    all_padding = MaskedGlobalMaxPooling1D()(values, mask=np.array([[False, False, False]]))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(all_padding), [[0.0, 0.0]])


def test_masked_mean_pooling_averages_the_real_steps_and_gives_zero_for_none():
    values = np.array([[[9.0, 9.0], [-3.0, -1.0], [-2.0, -5.0]]], dtype="float32")
    pooled = MaskedGlobalAveragePooling1D()(values, mask=np.array([[False, True, True]]))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(pooled), [[-2.5, -3.0]])
    all_padding = MaskedGlobalAveragePooling1D()(values, mask=np.array([[False, False, False]]))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(all_padding), [[0.0, 0.0]])  # not NaN


@pytest.mark.parametrize("cell", ["simple_rnn", "lstm", "gru"])
def test_predicting_batches_cut_to_their_longest_comment_gives_the_full_padding_probabilities_in_order(cell):
    from app.modeling.network import class_probabilities

    model = build_model(ModelConfig(cell=cell, embedding_dim=4, units=4, pooling="max_mean"), 40, 2)
    rng = np.random.default_rng(1)
    ids = np.zeros((50, 60), dtype="int32")
    for row, length in enumerate(rng.integers(0, 61, size=50)):  # lengths 0..60, front padded
        ids[row, 60 - length:] = rng.integers(1, 40, size=length)
    full = model.predict(ids, verbose=0)
    for batch_size in (7, 1024):  # many batches of different lengths; one batch
        np.testing.assert_allclose(class_probabilities(model, ids, batch_size)[:, 1], full[:, 0], atol=1e-6)
    long_ids = np.tile(ids[:4], (1, 12))  # 720 steps
    np.testing.assert_allclose(class_probabilities(model, long_ids)[:, 1], model.predict(long_ids, verbose=0)[:, 0], atol=1e-5)


@pytest.mark.parametrize("pooling", ["last", "max", "mean", "max_mean"])
def test_an_all_padding_row_gets_the_full_padding_prediction_in_its_place(pooling):
    from app.modeling.network import class_probabilities

    model = build_model(ModelConfig(cell="lstm", embedding_dim=4, units=4, pooling=pooling), 40, 2)
    ids = np.zeros((3, 60), dtype="int32")
    ids[0, -5:], ids[2, -2:] = [3, 4, 5, 6, 7], [8, 9]  # row 1 is all padding
    expected = model.predict(ids, verbose=0)[:, 0]
    assert np.isfinite(expected).all()
    np.testing.assert_allclose(class_probabilities(model, ids, batch_size=2)[:, 1], expected, atol=1e-6, equal_nan=False)
