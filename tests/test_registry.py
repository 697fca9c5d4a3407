"""One registry entry per component: a new cell registered in one place is accepted by
the schema, built by the model builder, counted in the parameter table, traced by the
gates and shown by the comparison, with nothing else edited."""

import keras
import numpy as np
import pytest

from app.config import ConfigError, config_from_dict
from app.modeling.cells import CELLS, Cell, simple_rnn_formula, simple_rnn_steps
from app.modeling.network import build_model
from app.modeling.parameters import formula_notes, parameter_table, recurrent_parameters
from app.registry import Registry


@keras.saving.register_keras_serializable(package="kosent_tests")
class ElmanRNN(keras.layers.SimpleRNN):
    """A SimpleRNN under another name: the one place a new cell is defined."""


@pytest.fixture
def elman():
    entry = CELLS.register(Cell(name="elman", display_name="Elman", layer_class=lambda: ElmanRNN,
                                formula=simple_rnn_formula, step=simple_rnn_steps,
                                note="u(i+u+1)       Elman's network: a SimpleRNN"))
    yield entry
    CELLS.unregister("elman")


def test_the_schema_accepts_a_registered_cell_and_names_it_among_the_allowed(elman):
    assert config_from_dict({"model": {"cell": "elman"}}).model.cell == "elman"
    with pytest.raises(ConfigError, match="must be one of simple_rnn, lstm, gru, elman"):
        config_from_dict({"model": {"cell": "transformer"}})


def test_a_registered_cell_is_built_counted_traced_and_compared(elman):
    from app.comparison.compare import recurrent_rows
    from app.interpret.gates import trace_gates
    from app.reporting.tables import format_parameter_table

    model_config = config_from_dict({"model": {"cell": "elman", "units": 5, "embedding_dim": 3}}).model
    model = build_model(model_config, vocab_size=20, num_classes=2)
    recurrent = model.get_layer("elman_1")
    assert type(recurrent) is ElmanRNN

    table = parameter_table(model)
    row = next(r for r in table if r["layer"] == "elman_1")
    assert row["params"] == 5 * (3 + 5 + 1) and row["agrees"] and row["formula"] == "u(i+u+1)"
    assert recurrent_parameters(table) == row["params"] and recurrent_rows(table) == [row]
    assert "Elman" in formula_notes() and "Elman" in format_parameter_table(table)

    ids = np.array([0, 0, 4, 7, 2])
    trace = trace_gates(model, ids)
    assert trace.layer == "elman_1" and trace.gates == {}
    states = keras.Model(model.input, recurrent.output)(ids[None, 2:])  # Keras's own last state
    np.testing.assert_allclose(trace.hidden[-1], np.asarray(states)[0], atol=1e-5)


def test_a_name_is_registered_once():
    registry = Registry("widget")
    registry.register(CELLS["lstm"])
    with pytest.raises(ValueError, match="a widget named 'lstm' is already registered"):
        registry.register(CELLS["lstm"])
    with pytest.raises(KeyError, match="unknown widget 'gru'; expected one of lstm"):
        registry["gru"]
