"""Three classes on NSMC (issue 18): a config against TF-IDF + logistic regression on
the split `train.py --data nsmc3` makes.

    python -m bench.nsmc3                                          # configs/own_data.yaml: the final report
    python -m bench.nsmc3 --split validation --config configs/gru.yaml   # for choices

`--data nsmc3` holds a stratified 20% (seed 42) of the 24K three-class sample
(ratings3_sample.tsv: negative / neutral / positive) out as its test set. This bench
makes the same split with the same functions, writes both parts as CSV files and
trains the config and TF-IDF on the first part, scoring both on the second by macro-F1.
--split validation holds bench/own_data.py's 15% of the first part out instead, so
choices never see the test part. Writes bench/nsmc3.json (bench/nsmc3_validation.json).
"""

import argparse
import sys
import time
from pathlib import Path
from types import SimpleNamespace

from app.files import write_json_atomically
from bench.own_data import SEED, TARGET_POINTS, Corpus, split_files, train_recipe, train_tfidf, write_csv
from bench.run import ROOT, shown

NSMC3 = Corpus("nsmc3", "e9t/nsmc", "CC0", "movie reviews (negative / neutral / positive)", "ratings3_sample.tsv",
               None, "document", "label")
TEST_SHARE = 0.2  # train.py's data.test_split when a test file is not given


def nsmc3_split(work_dir):
    """(train, test) CSV files: the rows `train.py --data nsmc3` trains on and scores on."""
    from app.config import DataConfig
    from app.data.readers import LabelSet, load_labeled
    from app.data.splits import stratified_split

    data = DataConfig(train="nsmc:train3", text_column=NSMC3.text_column, label_column=NSMC3.label_column)
    frame, _, source = load_labeled(data.train, data)
    y = LabelSet.fit(frame[data.label_column], None, source).encode(frame[data.label_column])
    keep, held_out = stratified_split(y, TEST_SHARE, SEED)
    rows = list(zip(frame[data.text_column], frame[data.label_column].astype(str)))
    target = work_dir / "files"
    return (write_csv([rows[i] for i in keep], NSMC3, target / "train.csv"),
            write_csv([rows[i] for i in held_out], NSMC3, target / "test.csv"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/own_data.yaml", help="the recipe (default: %(default)s)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a config override (repeatable)")
    parser.add_argument("--split", choices=["test", "validation"], default="test",
                        help="test: the final report; validation: a hold-out of the training part, for choices")
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/kosent-nsmc3"))
    parser.add_argument("--output", type=Path, help="default: bench/nsmc3.json (bench/nsmc3_validation.json)")
    args = parser.parse_args(argv)
    if not (ROOT / args.config).is_file():
        parser.error(f"--config: no such file: {args.config}")
    work_dir = args.work_dir.resolve()
    output = args.output or ROOT / "bench" / ("nsmc3.json" if args.split == "test" else "nsmc3_validation.json")
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    train, test = nsmc3_split(work_dir)
    train, test = split_files(NSMC3, train, test, args.split, None, work_dir)
    runs_dir, bench = work_dir / "runs" / args.split, SimpleNamespace(work_dir=work_dir)
    tfidf = train_tfidf(NSMC3, train, test, runs_dir, bench)
    recipe = train_recipe(args.config, NSMC3, train, test, args.set, runs_dir, bench)
    margin = round(100 * (recipe["score"] - tfidf["score"]), 2)
    arguments = sys.argv[1:] if argv is None else argv
    report = {"command": shown(["python", "-m", "bench.nsmc3", *arguments]), "started": started, "seed": SEED,
              "split": args.split, "config": args.config, "overrides": args.set,
              "target_points": TARGET_POINTS["macro_f1"], "tfidf": tfidf, "recipe": recipe, "margin_points": margin}
    write_json_atomically(output, report)
    print(f"nsmc3 ({args.split}, {recipe['test_rows']:,} rows): {Path(args.config).stem} macro-F1 "
          f"{recipe['macro_f1']:.4f} ({recipe['wall_s']} s), TF-IDF {tfidf['macro_f1']:.4f}, margin {margin:+.2f} points")
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
