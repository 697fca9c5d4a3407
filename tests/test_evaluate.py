"""Metrics agree with hand-counted values on a small example."""

import numpy as np
import pytest

from app.evaluation.metrics import classification_metrics, format_metrics


def test_binary_metrics_by_hand():
    y_true = np.array([0, 0, 1, 1])
    probabilities = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.3, 0.7]])
    result = classification_metrics(y_true, probabilities, ["부정", "긍정"])
    assert result["accuracy"] == 0.75
    assert result["confusion_matrix"] == [[1, 1], [0, 2]]
    assert result["per_class"]["부정"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}
    assert result["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2)
    assert result["roc_auc"] == 1.0
    assert "부정" in format_metrics(result, ["부정", "긍정"])


def test_three_classes_have_no_roc_auc_and_count_missing_classes():
    y_true = np.array([0, 1, 1])
    probabilities = np.eye(3)[[0, 2, 1]]
    result = classification_metrics(y_true, probabilities, ["neg", "neu", "pos"])
    assert result["roc_auc"] is None
    assert result["per_class"]["pos"]["support"] == 0
    assert result["confusion_matrix"] == [[1, 0, 0], [0, 1, 1], [0, 0, 0]]


def test_tables_line_up_in_a_terminal_when_class_names_are_hangul():
    """Hangul takes two terminal columns: the widths come from wcwidth, not len()."""
    from wcwidth import wcswidth

    names = ["부정", "neutral", "긍정"]
    y = np.array([0, 1, 2, 0])
    report = format_metrics(classification_metrics(y, np.eye(3)[[0, 1, 1, 0]], names), names).splitlines()
    per_class, matrix = report[2:5], report[6:10]
    assert len({wcswidth(line) for line in per_class}) == 1
    assert len({wcswidth(line) for line in matrix}) == 1
