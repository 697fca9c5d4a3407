"""TF-IDF n-grams + logistic regression: issue 6's strong linear baseline
(bench/baselines.py) and the second half of the distillation teacher (app/distill.py).

Character n-grams see what a morphological analyzer may split oddly (spelling
variants, missing spaces, ㅋㅋ), so this model errs on other comments than the
recurrent ones, and their mean beats both.
"""

import numpy as np


def tfidf_features():
    """Character 1-4 grams, across spaces too (Korean reviews are spaced loosely), and
    word 1-2 grams of space-separated words, single syllables included."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_union

    options = {"min_df": 2, "sublinear_tf": True, "dtype": np.float32}
    return make_union(
        TfidfVectorizer(analyzer="char", ngram_range=(1, 4), **options),
        TfidfVectorizer(analyzer="word", token_pattern=r"\S+", ngram_range=(1, 2), **options),
    )


def tfidf_classifier():
    """TF-IDF n-grams + scikit-learn's LogisticRegression (default C = 1): the baseline of
    bench/baselines.py and half of the teacher."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(tfidf_features(), LogisticRegression(max_iter=1000))
