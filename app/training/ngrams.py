"""Linear models over character and word n-grams: issue 6's TF-IDF baseline
(bench/baselines.py) and the n-gram half of the distillation teacher (app/distill.py).

Character n-grams see what a morphological analyzer may split oddly (spelling
variants, missing spaces, ㅋㅋ), so these models err on other comments than the
recurrent ones, and a mean of the two beats both.
"""

from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted

if TYPE_CHECKING:
    from sklearn.pipeline import FeatureUnion, Pipeline


def tfidf_features() -> "FeatureUnion":
    """Character 1-4 grams, across spaces too (Korean reviews are spaced loosely), and
    word 1-2 grams of space-separated words, single syllables included."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_union

    options = {"min_df": 2, "sublinear_tf": True, "dtype": np.float32}
    return make_union(
        TfidfVectorizer(analyzer="char", ngram_range=(1, 4), **options),
        TfidfVectorizer(analyzer="word", token_pattern=r"\S+", ngram_range=(1, 2), **options),
    )


def tfidf_classifier() -> "Pipeline":
    """TF-IDF n-grams + scikit-learn's LogisticRegression (default C = 1): the baseline of
    bench/baselines.py."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(tfidf_features(), LogisticRegression(max_iter=1000))


class NaiveBayesScaling(TransformerMixin, BaseEstimator):
    """Scales each binary feature of a two-class problem by its naive Bayes log-count
    ratio, log(share in the second class / share in the first), before a linear model:
    NBSVM (Wang and Manning 2012, "Baselines and bigrams"), a strong sentiment baseline.
    ``alpha`` smooths the counts."""

    def __init__(self, alpha=1.0):
        self.alpha = alpha

    def fit(self, X: Any, y: Any) -> "NaiveBayesScaling":
        """Learn each feature's log-count ratio from ``X`` (n x features) and labels ``y``;
        returns self. Raises ValueError unless ``y`` has two classes."""
        X, y = check_array(X, accept_sparse="csr", dtype=np.float32), np.asarray(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) != 2:
            raise ValueError(f"NaiveBayesScaling needs two classes, got {len(self.classes_)}: {self.classes_[:5]}")
        second = y == self.classes_[1]
        counts = [np.asarray(X[rows].sum(axis=0)).ravel() + self.alpha for rows in (second, ~second)]
        shares = [count / count.sum() for count in counts]
        self.ratio_ = (np.log(shares[0]) - np.log(shares[1])).astype(np.float32)
        return self

    def transform(self, X: Any) -> Any:
        """``X`` with each feature scaled by its ratio (CSR when ``X`` is sparse)."""
        check_is_fitted(self, "ratio_")
        X = check_array(X, accept_sparse="csr", dtype=np.float32)
        return X.multiply(self.ratio_).tocsr() if hasattr(X, "multiply") else X * self.ratio_


def naive_bayes_classifier() -> "Pipeline":
    """Binary character 1-5 and word 1-3 grams, naive-Bayes scaled, + LogisticRegression
    (C = 0.3): 0.8760 on NSMC's test set against 0.8686 for tfidf_classifier (both fitted
    on the whole training file), and the better partner for a recurrent model (docs/experiments.md:
    "What each choice is worth").
    One-vs-rest, so each class of a multi-class problem gets its own ratios."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import make_pipeline, make_union

    options = {"min_df": 2, "binary": True, "dtype": np.float32}
    features = make_union(
        CountVectorizer(analyzer="char", ngram_range=(1, 5), **options),
        CountVectorizer(analyzer="word", token_pattern=r"\S+", ngram_range=(1, 3), **options),
    )
    scaled = make_pipeline(NaiveBayesScaling(), LogisticRegression(C=0.3, max_iter=1000))
    return make_pipeline(features, OneVsRestClassifier(scaled))
