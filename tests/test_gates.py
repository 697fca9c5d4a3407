"""Gate traces: recomputed in NumPy from a saved model's weights, they give the states
Keras computes, for every cell type; and they read as a table and a Hangul heatmap."""

import io
import warnings
from dataclasses import replace

import keras
import numpy as np
import pytest
from keras import layers

from app.artifacts.run import SavedRun
from app.errors import InputError
from app.interpret.gates import (
    draw_gates,
    first_recurrent_layer,
    gate_table,
    trace_gates,
)
from app.modeling.network import build_model

LECTURE_COMMENT = "사무직은 초근도 못하고 야근수당도 없는데 그런데 생산직은 좋겠죠"


@pytest.fixture(scope="module")
def bundle(tiny_run):
    return SavedRun.load(tiny_run, workers=1)


@pytest.fixture(scope="module")
def lecture(bundle):
    """The lecture's comment as real MeCab tokens, front-padded to max_length like training."""
    tokens = bundle.tokenizer.tokenize([LECTURE_COMMENT])[0]
    return tokens, bundle.vocab.encode([tokens], bundle.config.vocab.max_length)


def randomized(model, seed=0):
    """``model`` with every weight drawn from N(0, 0.5²): the states move far from 0 and
    every bias counts, so a misplaced gate or bias cannot hide in a 1e-5 tolerance."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(scale=0.5, size=w.shape) for w in model.get_weights()])
    return model


def gru_without_reset_after(vocab_size):
    """build_model's front (masked embedding, GRU) with Keras 2's GRU variant."""
    inputs = keras.Input((None,), dtype="int32")
    x = layers.Embedding(vocab_size, 8, mask_zero=True, name="embedding")(inputs)
    return keras.Model(inputs, layers.GRU(8, reset_after=False, return_sequences=True, name="gru_1")(x))


def keras_hidden_states(model, ids, steps):
    """The first recurrent layer's own output at the last ``steps`` (real) tokens;
    for a Bidirectional layer, its forward half."""
    layer = next(found for found in model.layers if isinstance(found, (layers.RNN, layers.Bidirectional)))
    sequence = keras.Model(model.input, layer.output).predict(ids, verbose=0)[0]
    return sequence[-steps:, :first_recurrent_layer(model)[0].units]


def keras_final_cell_state(model, ids):
    """The LSTM's cell state after the comment, from a twin layer that returns its state."""
    layer, _ = first_recurrent_layer(model)
    twin = layers.LSTM.from_config({**layer.get_config(), "return_state": True})
    embedded = model.get_layer("embedding")(ids)
    twin.build(embedded.shape)
    twin.set_weights(layer.get_weights())
    _, _, cell = twin(embedded, mask=ids != 0)
    return keras.ops.convert_to_numpy(cell)[0]


@pytest.fixture(scope="module")
def models(bundle):
    """The trained LSTM, and each other kind of first layer with random weights."""
    def built(**changes):
        return randomized(build_model(replace(bundle.config.model, **changes), len(bundle.vocab), 2))

    return {
        "lstm (trained)": bundle.model,
        "lstm relu": built(cell="lstm", activation="relu"),
        "gru": built(cell="gru"),
        "gru reset_after=False": randomized(gru_without_reset_after(len(bundle.vocab))),
        "simple_rnn": built(cell="simple_rnn"),
        "bidirectional gru, 2 layers": built(cell="gru", bidirectional=True, layers=2),
    }


def test_recomputed_states_match_keras_for_every_cell(models, lecture):
    tokens, ids = lecture
    for name, model in models.items():
        trace = trace_gates(model, ids[0])
        assert trace.hidden.shape == (len(tokens), 8), name  # the padding is not traced
        np.testing.assert_allclose(trace.hidden, keras_hidden_states(model, ids, len(tokens)), atol=1e-5, err_msg=name)
        if trace.cell is not None:
            np.testing.assert_allclose(trace.cell[-1], keras_final_cell_state(model, ids), atol=1e-5, err_msg=name)
        for gate in trace.gates.values():
            assert gate.min() >= 0 and gate.max() <= 1, name


def test_each_cell_reports_its_own_gates(models, lecture):
    _, ids = lecture
    gates = {name: list(trace_gates(models[name], ids[0]).gates) for name in ("lstm (trained)", "gru", "simple_rnn")}
    assert gates == {"lstm (trained)": ["forget", "input", "output"], "gru": ["update", "reset"], "simple_rnn": []}
    assert trace_gates(models["bidirectional gru, 2 layers"], ids[0]).layer == "bidirectional_gru_1, forward direction"


def test_table_has_a_line_per_token_with_gate_means_and_the_state_norm(bundle, models, lecture):
    tokens, ids = lecture
    trace = trace_gates(bundle.model, ids[0])
    title, header, *rows = gate_table(trace, tokens).split("\n")
    assert title == "lstm_1: gate activations averaged over 8 units; |c| = cell-state norm"
    assert header.split() == ["step", "forget", "input", "output", "|c|", "token"]
    assert [row.split()[-1] for row in rows] == tokens
    first = [float(value) for value in rows[0].split()[1:5]]
    assert first == pytest.approx([trace.gates["forget"][0].mean(), trace.gates["input"][0].mean(),
                                   trace.gates["output"][0].mean(), np.linalg.norm(trace.cell[0])], abs=1e-3)

    simple = trace_gates(models["simple_rnn"], ids[0])
    moved = np.linalg.norm(simple.hidden[1] - simple.hidden[0])
    assert gate_table(simple, tokens).split("\n")[1].split() == ["step", "|Δh|", "token"]
    assert float(gate_table(simple, tokens).split("\n")[3].split()[1]) == pytest.approx(moved, abs=1e-3)


@pytest.mark.parametrize("cell", ["lstm", "simple_rnn"])
def test_heatmap_labels_hangul_tokens_in_nanum_gothic_without_missing_glyphs(bundle, lecture, cell):
    tokens, ids = lecture
    model = bundle.model if cell == "lstm" else build_model(replace(bundle.config.model, cell=cell), len(bundle.vocab), 2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figure = draw_gates(trace_gates(model, ids[0]), tokens, LECTURE_COMMENT)
        figure.savefig(io.BytesIO(), format="png")  # glyphs are looked up when drawn
    labels = figure.axes[-2].get_xticklabels()  # the bar chart of the state norm; the colorbar comes last
    assert [label.get_text() for label in labels] == tokens
    assert all(label.get_fontname() == "NanumGothic" for label in labels)
    assert not [w for w in caught if "Glyph" in str(w.message)]


def test_heatmap_shows_the_mean_gate_on_top_then_the_units_that_move_most(bundle, lecture):
    from app.interpret.gates import SHOWN_UNITS

    tokens, ids = lecture
    trace = trace_gates(bundle.model, ids[0])
    oov = [False] * (len(tokens) - 1) + [True]
    figure = draw_gates(trace, tokens, LECTURE_COMMENT, oov=oov)
    forget = trace.gates["forget"]  # tokens x units
    rows = figure.axes[0].images[0].get_array()
    shown = min(SHOWN_UNITS, trace.units)
    assert rows.shape == (2 + shown, len(tokens))  # the mean, a gap, then the units
    np.testing.assert_allclose(rows[0], forget.mean(axis=1), rtol=1e-5)
    spread = np.asarray(rows[2:]).std(axis=1)
    assert np.all(np.diff(spread) <= 1e-6) and spread[0] == pytest.approx(forget.std(axis=0).max(), rel=1e-5)
    assert figure.axes[0].get_yticklabels()[0].get_text() == "mean"
    last = figure.axes[-2].get_xticklabels()[-1]
    assert last.get_text() == f"{tokens[-1]} (oov)" and last.get_color() == "grey"


def test_a_model_without_a_recurrent_layer_or_a_comment_without_tokens_is_refused(bundle, lecture):
    inputs = keras.Input((None,), dtype="int32")
    pooled = layers.GlobalAveragePooling1D()(layers.Embedding(10, 4, name="embedding")(inputs))
    with pytest.raises(InputError, match="no SimpleRNN, LSTM or GRU layer"):
        trace_gates(keras.Model(inputs, pooled), [3, 4])
    with pytest.raises(InputError, match="no tokens"):
        trace_gates(bundle.model, np.zeros(30, dtype=np.int32))
