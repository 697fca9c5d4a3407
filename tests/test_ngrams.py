"""The n-gram half of the distillation teacher (app/ngrams.py): naive-Bayes-scaled
binary n-grams + logistic regression (NBSVM), on the bundled samples."""

import numpy as np
import pytest
from conftest import SAMPLE, SAMPLE_3CLASS
from scipy.sparse import csr_matrix

from app.config import DataConfig
from app.data.readers import load_labeled
from app.training.ngrams import NaiveBayesScaling, naive_bayes_classifier


def test_a_feature_seen_only_in_positive_comments_gets_a_positive_ratio_and_a_shared_one_about_zero():
    # columns: only in positives, only in negatives, in every comment
    X = csr_matrix(np.array([[1, 0, 1], [1, 0, 1], [0, 1, 1], [0, 1, 1]], dtype=np.float32))
    scaling = NaiveBayesScaling().fit(X, [1, 1, 0, 0])
    positive_only, negative_only, shared = scaling.ratio_
    assert positive_only > 0 > negative_only and abs(shared) < 1e-6
    assert np.allclose(scaling.transform(X).toarray()[0], [positive_only, 0, shared])
    assert np.allclose(scaling.transform(X.toarray()), scaling.transform(X).toarray())  # dense input too

    named = NaiveBayesScaling().fit(X, ["pos", "pos", "neg", "neg"])  # the second class in sorted order
    assert np.allclose(named.ratio_, scaling.ratio_)
    with pytest.raises(ValueError, match="two classes, got 3"):
        NaiveBayesScaling().fit(X, [0, 1, 2, 2])


def _read(path):
    frame, _, _ = load_labeled(str(path), DataConfig())
    return frame["document"].tolist(), frame["label"].astype(int).to_numpy()


def test_the_naive_bayes_classifier_learns_the_binary_sample():
    texts, y = _read(SAMPLE)
    model = naive_bayes_classifier().fit(texts[:240], y[:240])
    probabilities = model.predict_proba(texts[240:])
    assert probabilities.shape == (len(texts) - 240, 2)
    assert np.mean(probabilities.argmax(1) == y[240:]) > 0.6


def test_each_class_of_a_three_class_problem_gets_its_own_ratios():
    texts, y = _read(SAMPLE_3CLASS)
    model = naive_bayes_classifier().fit(texts, y)
    one_vs_rest = model[-1]
    assert len(one_vs_rest.estimators_) == 3
    probabilities = model.predict_proba(texts)
    assert probabilities.shape == (len(texts), 3) and np.allclose(probabilities.sum(1), 1)
    assert np.mean(probabilities.argmax(1) == y) > 0.6  # its own training comments
