"""Experiment (issue 18): does dividing a run's probabilities by its training classes' shares help macro-F1?

    python -m bench.experiments.prior_shift <run> --train train.csv --validation validation.csv \
        --text-column comments --label-column hate

A model trained on 44% `none` leans to `none`; macro-F1 counts every class the same,
so dividing each probability by its class's share in the training file to the power
t (t = 0: as trained; 1: as if every class were equally common) trades accuracy on
common classes for recall on rare ones. Prints accuracy, macro-F1 and the predicted
counts for t = 0, 0.25, ... 1 on the validation file (never on a test file: this is a
choice). The files are bench/own_data.py's `--split validation` files (CSV).
"""

import argparse

import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="a run directory saved by train.py")
    parser.add_argument("--train", required=True, help="the CSV the run was trained on: its class shares")
    parser.add_argument("--validation", required=True, help="a CSV of held-out rows of the same labels")
    parser.add_argument("--text-column", required=True)
    parser.add_argument("--label-column", required=True)
    args = parser.parse_args()

    from sklearn.metrics import accuracy_score, f1_score

    from app.inference.classifier import Classifier
    from bench.baselines import read_split

    (_, y_train), (texts, y), names = read_split(args.train, args.validation, args.text_column, args.label_column)
    with Classifier.load(args.run) as classifier:
        if classifier.labels != list(names):
            raise SystemExit(f"{args.run}: its classes {classifier.labels} are not {args.train}'s {list(names)}")
        probabilities, _ = classifier.predict_proba(texts)
    shares = np.bincount(y_train, minlength=len(names)) / len(y_train)
    print(f"classes {names}, their shares in {args.train}: {np.round(shares, 4).tolist()}")
    print("| t | accuracy | macro-F1 | predicted per class |\n|---|---|---|---|")
    for t in (0, 0.25, 0.5, 0.75, 1):
        predicted = (probabilities / shares**t).argmax(axis=1)
        print(f"| {t} | {accuracy_score(y, predicted):.4f} | {f1_score(y, predicted, average='macro'):.4f} "
              f"| {np.bincount(predicted, minlength=len(names)).tolist()} |")


if __name__ == "__main__":
    main()
