"""Small slices of NSMC (issue 18): accuracy against labeled rows, the recipe for your
own data against TF-IDF + logistic regression fitted on the same slice.

    python -m bench.learning_curve                                  # 2,000, 5,000 and 20,000 rows
    python -m bench.learning_curve --rows 2000,5000 --config configs/lstm.yaml
    python -m bench.learning_curve --split validation --set distill.max_rows=20000   # for choices

Each slice is a seeded sample of NSMC's training file (bench/own_data.py's split_files),
scored on the whole test file; with --split validation, a sample of the training file
less bench/own_data.py's 15% hold-out, scored on that hold-out (22,500 reviews), so
choices never see the test file. Trainings run one at a time as child processes, as in
bench/own_data.py. Writes bench/learning_curve.json and docs/learning_curve.png
(--split validation: bench/learning_curve_validation.json, no figure).
"""

import argparse
import sys
import time
from pathlib import Path
from types import SimpleNamespace

from app.files import write_json_atomically
from bench.own_data import SEED, TARGET_POINTS, Corpus, split_files, train_recipe, train_tfidf
from bench.run import ROOT, shown

NSMC = Corpus("nsmc", "e9t/nsmc", "CC0", "movie reviews (0 / 1)", "ratings_train.tsv", "ratings_test.tsv",
              "document", "label")


def measure(rows, config, data_dir, work_dir, split="test", overrides=()):
    """{"rows": n, "tfidf": record, "recipe": record, "margin_points": ...} for one slice."""
    train, test = split_files(NSMC, data_dir / NSMC.train, data_dir / NSMC.test, split, rows, work_dir / str(rows))
    runs_dir, bench = work_dir / str(rows) / "runs" / split, SimpleNamespace(work_dir=work_dir)  # run_child's token caches
    tfidf = train_tfidf(NSMC, train, test, runs_dir, bench)
    recipe = train_recipe(config, NSMC, train, test, list(overrides), runs_dir, bench)
    return {"rows": rows, "tfidf": tfidf, "recipe": recipe,
            "margin_points": round(100 * (recipe["score"] - tfidf["score"]), 2)}


def plot(results, config, path):
    """Accuracy against labeled rows (log scale), the recipe and TF-IDF."""
    import koreanize_matplotlib  # noqa: F401 - Hangul in the labels
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r["rows"] for r in results]
    figure, axis = plt.subplots(figsize=(6, 4))
    axis.plot(rows, [r["recipe"]["accuracy"] for r in results], "o-", label=Path(config).name)
    axis.plot(rows, [r["tfidf"]["accuracy"] for r in results], "s--", label="TF-IDF + logistic regression")
    axis.set(xscale="log", xlabel="labeled NSMC training reviews", ylabel="test accuracy (50,000 reviews)",
             title="NSMC slices: accuracy against labeled rows")
    axis.set_xticks(rows, [f"{n:,}" for n in rows])
    axis.minorticks_off()  # the log axis would label 3x10^3 ... between the slices
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="2000,5000,20000", help="comma-separated slice sizes (default: %(default)s)")
    parser.add_argument("--config", default="configs/own_data.yaml", help="the recipe (default: %(default)s)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a config override (repeatable)")
    parser.add_argument("--split", choices=["test", "validation"], default="test",
                        help="test: the final report; validation: a hold-out of the training file, for choices")
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data" / "nsmc",
                        help="the folder with ratings_train.tsv and ratings_test.tsv (default: ../shared/data/nsmc)")
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/kosent-learning-curve"))
    parser.add_argument("--output", type=Path, help="default: bench/learning_curve.json "
                                                    "(bench/learning_curve_validation.json with --split validation)")
    parser.add_argument("--figure", type=Path, default=ROOT / "docs" / "learning_curve.png")
    args = parser.parse_args(argv)
    sizes = sorted(int(n) for n in args.rows.split(","))
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    results = [measure(n, args.config, args.data_dir, args.work_dir, args.split, args.set) for n in sizes]
    arguments = sys.argv[1:] if argv is None else argv
    report = {"command": shown(["python", "-m", "bench.learning_curve", *arguments]), "started": started,
              "seed": SEED, "config": args.config, "split": args.split, "overrides": args.set,
              "target_points": TARGET_POINTS["accuracy"], "slices": results}
    output = args.output or ROOT / "bench" / f"learning_curve{'_validation' if args.split == 'validation' else ''}.json"
    write_json_atomically(output, report)
    if args.split == "test":
        plot(results, args.config, args.figure)
    for r in results:
        print(f"{r['rows']:>6,} rows: {Path(args.config).stem} {r['recipe']['accuracy']:.4f} ({r['recipe']['wall_s']} s), "
              f"TF-IDF {r['tfidf']['accuracy']:.4f}, margin {r['margin_points']:+.2f} points")
    print(f"wrote {output}" + (f" and {args.figure}" if args.split == "test" else ""))


if __name__ == "__main__":
    main()
