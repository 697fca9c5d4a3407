"""Your own data, measured as a user would meet it (issue 18): public Korean comment
corpora that are not NSMC, each trained through train.py from its own files and
columns, against TF-IDF + logistic regression fitted on the same training file.

    python -m bench.own_data --data-dir DIR                        # every corpus, configs/lstm.yaml
    python -m bench.own_data --data-dir DIR --split validation     # for choices: a split of the train file
    python -m bench.own_data --data-dir DIR --corpora curse --configs configs/lstm.yaml --max-rows 2000

DIR holds the corpora cloned as they are published (docs/own_data.md gives each
`git clone` and the layout); --data-dir defaults to $KOSENT_OWN_DATA_DIR.

Corpora (CORPORA below):
  hate     kocohub/korean-hate-speech: news comments, hate / offensive / none (labeled/train.tsv, labeled/dev.tsv)
  unsmile  smilegate-ai/korean_unsmile_dataset: news and community comments, clean 1 / 0 (train and valid files)
  curse    2runo/Curse-detection-data: community comments, curse 1 / 0, one file `text|label`; a fixed
           seeded split of it (TEST_ROWS_CURSE rows), written as CSV, is its test file

--split test trains on each corpus's train file and reports on its test (or dev) file:
the final report. --split validation holds a seeded stratified VALIDATION_SHARE of the
train file out and reports on that instead, so that recipes are compared without
touching the test files. Binary corpora are scored by accuracy, multi-class ones by
macro-F1; the margin is the recipe's score minus TF-IDF's, in points. Results merge
into bench/own_data.json and .md (bench/own_data_validation.* for --split validation);
trained runs, logs and derived files go to --work-dir, outside the project.

Trainings and the baseline run one at a time, as child processes (bench/run.py's
run_child: wall time and peak memory from the operating system, an empty token cache
each).
"""

import argparse
import json
import os
import random
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from app.files import write_json_atomically, write_text_atomically
from bench.run import ROOT, run_child, say, shown

SEED = 42
VALIDATION_SHARE = 0.15
TEST_ROWS_CURSE = 800  # leaves 5,025 training rows of its 5,825
TARGET_POINTS = {"accuracy": 1.5, "macro_f1": 2.0}  # issue 18: the recipe's lead over TF-IDF


@dataclass(frozen=True)
class Corpus:
    """One public corpus, as its publisher lays it out."""

    name: str
    repository: str  # github owner/name: `git clone https://github.com/<repository>`
    license: str
    domain: str
    train: str  # path in the clone
    test: str | None  # path in the clone; None: a seeded split of train is made
    text_column: str
    label_column: str


CORPORA = {corpus.name: corpus for corpus in [
    Corpus("hate", "kocohub/korean-hate-speech", "CC BY-SA 4.0", "news comments (hate: hate / offensive / none)",
           "labeled/train.tsv", "labeled/dev.tsv", "comments", "hate"),
    Corpus("unsmile", "smilegate-ai/korean_unsmile_dataset", "CC BY-NC-ND 4.0",
           "news and community comments (clean: 1 / 0)", "unsmile_train_v1.0.tsv", "unsmile_valid_v1.0.tsv",
           "문장", "clean"),
    Corpus("curse", "2runo/Curse-detection-data", "MIT", "community comments (욕설 / 정상)",
           "dataset.txt", None, "comment", "label"),
]}
CURSE_LABELS = {"1": "욕설", "0": "정상"}  # its file has 1 for a comment with a curse


# ----------------------------------------------------------------------------- files

def clone_dir(corpus, data_dir):
    return data_dir / corpus.repository.split("/")[1]


def corpus_files(corpus, data_dir, work_dir):
    """(train, test) files of ``corpus`` as train.py reads them: the clone's own files, or
    for curse a fixed seeded split of its one file written as CSV to ``work_dir``."""
    clone = clone_dir(corpus, data_dir)
    missing = [p for p in [corpus.train, corpus.test] if p and not (clone / p).is_file()]
    if missing:
        raise SystemExit(f"error: {clone} lacks {', '.join(missing)}: "
                         f"git clone https://github.com/{corpus.repository} {clone}")
    if corpus.test is not None:
        return clone / corpus.train, clone / corpus.test
    rows = curse_rows(clone / corpus.train)
    random.Random(SEED).shuffle(rows)
    target = work_dir / "files" / corpus.name
    return (write_csv(rows[TEST_ROWS_CURSE:], corpus, target / "train.csv"),
            write_csv(rows[:TEST_ROWS_CURSE], corpus, target / "test.csv"))


def curse_rows(path):
    """(comment, label) of each `comment|0` or `comment|1` line, in file order; a line
    with any other ending stops with its number."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text, _, label = line.rpartition("|")
        if label.strip() not in CURSE_LABELS:
            raise SystemExit(f"error: {path}, line {number}: expected `comment|0` or `comment|1`, got {line[:60]!r}")
        rows.append((text.strip(), CURSE_LABELS[label.strip()]))
    return rows


def write_csv(rows, corpus, path):
    """(comment, label) rows as a CSV with the corpus's column names, quoted where needed
    (TSV is read unquoted, and some comments hold tabs)."""
    import pandas as pd

    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=[corpus.text_column, corpus.label_column]).to_csv(path, index=False)
    return path


def labeled_rows(path, corpus):
    """(comment, label) rows of a labeled file, read as train.py reads it (empty ones dropped)."""
    from app.config import DataConfig
    from app.data.readers import load_labeled

    frame, _, _ = load_labeled(str(path), DataConfig(text_column=corpus.text_column, label_column=corpus.label_column))
    return list(zip(frame[corpus.text_column], frame[corpus.label_column].astype(str)))


def split_files(corpus, train, test, split, max_rows, work_dir):
    """The (train, test) pair one measurement uses: for validation, a seeded stratified
    hold-out of ``train``; with ``max_rows``, a seeded sample of the training rows."""
    if split == "test" and max_rows is None:
        return train, test
    from app.data.readers import LabelSet
    from app.data.splits import stratified_split

    rows = labeled_rows(train, corpus)
    target = work_dir / "files" / corpus.name / split
    if split == "validation":
        y = LabelSet.fit([label for _, label in rows], source=str(train)).encode([label for _, label in rows])
        kept, held_out = stratified_split(y, VALIDATION_SHARE, SEED)
        rows, test = [rows[i] for i in sorted(kept)], write_csv([rows[i] for i in sorted(held_out)], corpus,
                                                                target / "validation.csv")
    if max_rows is not None and max_rows < len(rows):
        rows = random.Random(SEED).sample(rows, max_rows)
    return write_csv(rows, corpus, target / "train.csv"), test


# ----------------------------------------------------------------------------- measurements

def score_of(metrics, classes):
    """accuracy for a binary corpus, macro-F1 otherwise, as (metric name, value)."""
    metric = "accuracy" if classes == 2 else "macro_f1"
    return metric, metrics[metric]


def train_recipe(config, corpus, train, test, overrides, runs_dir, bench):
    """train.py --config CONFIG --data TRAIN --test TEST with the corpus's columns; its record."""
    name = f"{corpus.name}-{Path(config).stem}"
    command = [sys.executable, "train.py", "--config", Path(config), "--data", train, "--test", test,
               "--text-column", corpus.text_column, "--label-column", corpus.label_column,
               "--models-dir", runs_dir, "--name", name]
    for override in overrides:
        command += ["--set", override]
    if (runs_dir / name).exists():  # else train.py would save the new run as <name>-2
        shutil.rmtree(runs_dir / name)
    say(f"{corpus.name}: training {config}")
    child = run_child(command, runs_dir / "logs" / f"{name}.log", bench)
    metrics = json.loads((runs_dir / name / "metrics.json").read_text(encoding="utf-8"))
    return record(metrics, child, command)


def train_tfidf(corpus, train, test, runs_dir, bench):
    """bench/baselines.py tfidf on the same files and columns; its record."""
    output = runs_dir / f"{corpus.name}-tfidf.json"
    command = [sys.executable, "bench/baselines.py", "tfidf", "--train", train, "--test", test, "--output", output,
               "--text-column", corpus.text_column, "--label-column", corpus.label_column]
    say(f"{corpus.name}: TF-IDF + logistic regression")
    child = run_child(command, runs_dir / "logs" / f"{corpus.name}-tfidf.log", bench)
    return record(json.loads(output.read_text(encoding="utf-8")), child, command)


def record(metrics, child, command):
    classes = len(metrics["per_class"])
    metric, value = score_of(metrics, classes)
    return {"metric": metric, "score": round(value, 4), "accuracy": round(metrics["accuracy"], 4),
            "macro_f1": round(metrics["macro_f1"], 4), "classes": classes, "test_rows": metrics["n"],
            "best_epoch": metrics.get("best_epoch"), "epochs_run": metrics.get("epochs_run"),
            "pretrain_s": metrics.get("pretrain_seconds"), "wall_s": round(child.seconds, 1),
            "peak_rss_mib": round(child.peak_rss_mib), "command": shown(command)}


def measure(corpus, args, bench):
    """TF-IDF and every config on one corpus: {"tfidf": record, "<config>": record + margin}."""
    train, test = corpus_files(corpus, args.data_dir, args.work_dir)
    train, test = split_files(corpus, train, test, args.split, args.max_rows, args.work_dir)
    runs_dir = args.work_dir / "runs" / args.split
    results = {"train_rows": len(labeled_rows(train, corpus)), "train": shown([train]), "test": shown([test]),
               "tfidf": train_tfidf(corpus, train, test, runs_dir, bench)}
    for config in args.configs:
        result = train_recipe(config, corpus, train, test, args.set, runs_dir, bench)
        result["margin_points"] = round(100 * (result["score"] - results["tfidf"]["score"]), 2)
        result["target_points"] = TARGET_POINTS[result["metric"]]
        result["overrides"] = list(args.set)
        results[recipe_key(config, args.set)] = result
    return results


def recipe_key(config, overrides):
    return " ".join([Path(config).stem, *overrides])


# ----------------------------------------------------------------------------- report

def write_results(results, output):
    """Merge ``results`` (corpus -> measurements) into output.json and rewrite output.md."""
    path = output.with_suffix(".json")
    path.parent.mkdir(parents=True, exist_ok=True)
    merged = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"corpora": {}}
    for name, measured in results.items():
        old = merged["corpora"].get(name, {})
        old_recipes = {k: v for k, v in old.items() if isinstance(v, dict) and "command" in v and k != "tfidf"}
        merged["corpora"][name] = {**old_recipes, **measured} if old.get("train") == measured["train"] else measured
    merged["measured"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    merged["machine"] = f"{os.cpu_count()} cores"
    write_json_atomically(path, merged)
    write_text_atomically(output.with_suffix(".md"), table(merged))


def table(merged):
    lines = ["# Your own data: the recipes against TF-IDF + logistic regression", "",
             f"Written by `python -m bench.own_data` ({merged['measured']}, {merged['machine']}, "
             f"seed {SEED}, of the split and the training unless a row sets train.seed). "
             "Score: accuracy on binary corpora, macro-F1 on multi-class ones; margin in points; target: "
             "+1.5 accuracy, +2.0 macro-F1.", "",
             "| corpus | train rows | test rows | model | score | TF-IDF | margin | target met | wall s |",
             "|---|---|---|---|---|---|---|---|---|"]
    commands = []
    for name, measured in merged["corpora"].items():
        tfidf = measured["tfidf"]
        lines.append(f"| {name} | {measured['train_rows']:,} | {tfidf['test_rows']:,} | TF-IDF + LogisticRegression | "
                     f"{tfidf['metric']} {tfidf['score']:.4f} | | | | {tfidf['wall_s']:,.1f} |")
        commands.append(f"- {name}, TF-IDF: `{tfidf['command']}`")
        for key, result in measured.items():
            if key == "tfidf" or not isinstance(result, dict):
                continue
            met = "yes" if result["margin_points"] >= result["target_points"] else "no"
            lines.append(f"| {name} | {measured['train_rows']:,} | {result['test_rows']:,} | {key} | "
                         f"{result['metric']} {result['score']:.4f} | {tfidf['score']:.4f} | "
                         f"{result['margin_points']:+.2f} | {met} | {result['wall_s']:,.1f} |")
            commands.append(f"- {name}, {key}: `{result['command']}`")
    return "\n".join(lines + ["", "Commands (run from the project root):", "", *commands]) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=os.environ.get("KOSENT_OWN_DATA_DIR"),
                        help="where the corpora are cloned (default: $KOSENT_OWN_DATA_DIR)")
    parser.add_argument("--corpora", default=",".join(CORPORA), help="comma-separated (default: %(default)s)")
    parser.add_argument("--configs", default="configs/lstm.yaml", help="comma-separated configs (default: %(default)s)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a config override for every config (repeatable)")
    parser.add_argument("--split", choices=["test", "validation"], default="test",
                        help="test: the final report; validation: a hold-out of the train file, for choices")
    parser.add_argument("--max-rows", type=int, help="a seeded sample of this many training rows")
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/kosent-own-data"),
                        help="runs, logs and derived files (default: %(default)s)")
    parser.add_argument("--output", type=Path, help="results stem (default: bench/own_data, or "
                                                    "bench/own_data_validation with --split validation)")
    args = parser.parse_args(argv)
    if args.data_dir is None:
        parser.error("--data-dir (or $KOSENT_OWN_DATA_DIR) is needed: where the corpora are cloned")
    unknown = [name for name in args.corpora.split(",") if name not in CORPORA]
    if unknown:
        parser.error(f"--corpora: unknown {', '.join(unknown)}; known: {', '.join(CORPORA)}")
    if args.max_rows is not None and args.max_rows < 100:
        parser.error(f"--max-rows: {args.max_rows} is below 100")
    args.configs = [config for config in args.configs.split(",") if config]
    missing = [config for config in args.configs if not (ROOT / config).is_file()]
    if missing:
        parser.error(f"--configs: no such file: {', '.join(missing)}")
    args.data_dir, args.work_dir = args.data_dir.resolve(), args.work_dir.resolve()
    output = args.output or ROOT / "bench" / ("own_data" if args.split == "test" else "own_data_validation")
    bench = SimpleNamespace(work_dir=args.work_dir)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    for name in args.corpora.split(","):
        write_results({name: measure(CORPORA[name], args, bench)}, output)
        say(f"{name}: written to {shown([output.with_suffix('.md')])}")


if __name__ == "__main__":
    main()
