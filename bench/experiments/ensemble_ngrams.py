"""Experiment (issue 6): the mean of a recurrent run's and an n-gram model's test probabilities.

    python bench/experiments/ensemble_ngrams.py bench/runs/best bench/runs/lstm bench/runs/gru
    python bench/experiments/ensemble_ngrams.py --linear naive_bayes bench/runs/best

Trains an n-gram model of app/ngrams.py on NSMC's training file (the TF-IDF +
logistic regression baseline of bench/baselines.py, or the naive-Bayes-scaled one of
the distillation teacher), then prints, for each run, its test accuracy and that of
the plain mean of its and the n-gram model's probabilities (no weight is tuned: the
test set makes no choices).
"""

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="run directories of the same labels")
    parser.add_argument("--linear", choices=["tfidf", "naive_bayes"], default="tfidf")
    args = parser.parse_args()

    from app.artifacts.run import SavedRun
    from app.modeling.network import class_probabilities
    from app.training import ngrams
    from bench.baselines import read_split

    (texts, y), (test_texts, y_test), values = read_split("nsmc:train", "nsmc:test")  # classes by raw label
    linear = getattr(ngrams, f"{args.linear}_classifier")().fit(texts, y).predict_proba(test_texts)
    print(f"{args.linear}: accuracy {(linear.argmax(1) == y_test).mean():.4f}")
    for run in args.runs:
        bundle = SavedRun.load(run)
        if list(bundle.labels.values) != list(values):
            raise SystemExit(f"error: {run}: labels {bundle.labels.values}, the baseline's {values}")
        probabilities = class_probabilities(bundle.model, bundle.encode(test_texts)[1])
        bundle.tokenizer.close()
        mean = (linear + probabilities) / 2
        print(f"{run}: accuracy {(probabilities.argmax(1) == y_test).mean():.4f}, "
              f"mean with {args.linear} {(mean.argmax(1) == y_test).mean():.4f}")


if __name__ == "__main__":
    main()
