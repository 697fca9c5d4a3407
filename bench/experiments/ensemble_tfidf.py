"""Experiment (issue 6): the mean of a recurrent run's and the TF-IDF baseline's test probabilities.

    python bench/experiments/ensemble_tfidf.py bench/runs/best bench/runs/lstm bench/runs/gru

Trains the TF-IDF + logistic regression baseline of bench/baselines.py on NSMC, then
prints, for each run, its test accuracy and that of the plain mean of its and the
baseline's probabilities (no weight is tuned: the test set makes no choices).
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]


def main():
    from baselines import read_split

    from app.bundle import load_bundle
    from app.tfidf import tfidf_classifier
    from app.inference import encode_comments
    from app.models import class_probabilities

    (texts, y), (test_texts, y_test), values = read_split("nsmc:train", "nsmc:test")  # classes by raw label
    tfidf = tfidf_classifier().fit(texts, y).predict_proba(test_texts)
    print(f"tfidf: accuracy {(tfidf.argmax(1) == y_test).mean():.4f}")
    for run in sys.argv[1:]:
        bundle = load_bundle(run)
        if list(bundle.labels.values) != list(values):
            raise SystemExit(f"error: {run}: labels {bundle.labels.values}, the baseline's {values}")
        probabilities = class_probabilities(bundle.model, encode_comments(bundle, test_texts)[1])
        bundle.tokenizer.close()
        mean = (tfidf + probabilities) / 2
        print(f"{run}: accuracy {(probabilities.argmax(1) == y_test).mean():.4f}, "
              f"mean with tfidf {(mean.argmax(1) == y_test).mean():.4f}")


if __name__ == "__main__":
    main()
