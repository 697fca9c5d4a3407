"""Experiment (issue 6): self-training on the unlabeled reviews with a trained model's surest labels.

    python predict.py --model bench/runs/best ../shared/data/nsmc/unlabeled_reviews.txt -o /tmp/unlabeled.tsv
    python bench/experiments/self_training.py /tmp/unlabeled.tsv -o /tmp/train_plus_pseudo.tsv
    python train.py --config configs/best.yaml --set data.train=/tmp/train_plus_pseudo.tsv --name self-trained

The second step keeps the unlabeled reviews the model labeled with at least
``--confidence``, as many negative as positive ones (the unlabeled reviews lean
positive), and writes them after the NSMC training reviews as one training file
(unquoted, as NSMC is). train.py's validation split then holds pseudo-labeled
reviews too, so they take part in early stopping.
"""

import argparse
import csv
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]


def main():
    from app.config import DataConfig
    from app.data.readers import load_labeled

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("predictions", help="predict.py's output (TSV) for the unlabeled reviews")
    parser.add_argument("-o", "--output", required=True, help="the training file to write (TSV)")
    parser.add_argument("--confidence", type=float, default=0.9)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    scored = pd.read_csv(args.predictions, sep="\t", dtype=str, keep_default_na=False)  # predict.py quotes as CSV does
    scored = scored[scored.status == "ok"]
    sure = scored[scored.confidence.astype(float) >= args.confidence]
    per_class = sure.label.value_counts().min()
    kept = pd.concat([group.sample(per_class, random_state=args.seed) for _, group in sure.groupby("label")])
    pseudo = pd.DataFrame({"id": [f"u{i}" for i in range(len(kept))], "document": kept.document.values,
                           "label": (kept.label == "positive").astype(int).astype(str).values})
    train, _, source = load_labeled("nsmc:train", DataConfig())
    pd.concat([train[["id", "document", "label"]].astype(str), pseudo], ignore_index=True).to_csv(
        args.output, sep="\t", index=False, quoting=csv.QUOTE_NONE)
    print(f"{len(sure):,} of {len(scored):,} unlabeled reviews scored at least {args.confidence}; "
          f"kept {per_class:,} of each class; wrote {len(train) + len(pseudo):,} rows to {args.output}")


if __name__ == "__main__":
    main()
