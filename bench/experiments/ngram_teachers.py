"""Experiment (issue 18): would another n-gram model make a better half of the distillation teacher?

    python -m bench.experiments.ngram_teachers --train train.csv --validation validation.csv \
        --text-column comments --label-column hate

The teacher (app/training/distill.py) mixes its recurrent half with naive-Bayes-scaled
n-grams (app/training/ngrams.py naive_bayes_classifier). This fits that model and
TF-IDF + logistic regression at a few strengths C, with and without balanced class
weights, on the training file and prints accuracy, macro-F1 and log loss on the
validation file (never on a test file: this is a choice). The teacher's mix is chosen
by log loss, so a better half should lower it. The files are bench/own_data.py's
`--split validation` files (CSV).
"""

import argparse
import time


def candidates():
    """(name, unfitted scikit-learn pipeline) of each n-gram model compared."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from app.training.ngrams import naive_bayes_classifier, tfidf_classifier, tfidf_features

    def tfidf(C, class_weight=None):
        return make_pipeline(tfidf_features(), LogisticRegression(C=C, class_weight=class_weight, max_iter=2000))

    return [("naive-Bayes n-grams, C=0.3 (the teacher's)", naive_bayes_classifier()),
            ("TF-IDF, C=1 (the baseline)", tfidf_classifier()),
            ("TF-IDF, C=3", tfidf(3)),
            ("TF-IDF, C=10", tfidf(10)),
            ("TF-IDF, C=3, balanced classes", tfidf(3, "balanced"))]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", required=True, help="a CSV of labeled training rows")
    parser.add_argument("--validation", required=True, help="a CSV of held-out rows of the same labels")
    parser.add_argument("--text-column", required=True)
    parser.add_argument("--label-column", required=True)
    args = parser.parse_args()

    from sklearn.metrics import log_loss

    from app.evaluation.metrics import classification_metrics
    from bench.baselines import read_split

    (texts, y), (validation_texts, y_validation), names = read_split(
        args.train, args.validation, args.text_column, args.label_column)
    print(f"{len(texts):,} training and {len(validation_texts):,} validation rows, classes {list(names)}")
    print("| n-gram model | accuracy | macro-F1 | log loss | s |\n|---|---|---|---|---|")
    for name, model in candidates():
        started = time.perf_counter()
        probabilities = model.fit(texts, y).predict_proba(validation_texts)
        scores = classification_metrics(y_validation, probabilities, names)
        print(f"| {name} | {scores['accuracy']:.4f} | {scores['macro_f1']:.4f} "
              f"| {log_loss(y_validation, probabilities, labels=range(len(names))):.4f} "
              f"| {time.perf_counter() - started:.1f} |", flush=True)


if __name__ == "__main__":
    main()
