"""Accuracy and speed side by side, measured in one run on NSMC (issue 6).

    python bench/run.py                          # every part, on ../shared/data/nsmc
    python bench/run.py --quick                  # the whole pipeline on a small sample, in minutes
    python bench/run.py --only tokenize,predict  # some parts; the others keep their last results
    python bench/run.py --only configs --configs best  # one config; the others keep theirs

Parts:
  configs   train.py --config C for every configs/*.yaml that trains on nsmc:train and
            tests on nsmc:test: test accuracy, macro-F1, seconds per epoch, wall time, peak memory
  ensemble  the mean of the configs' test probabilities (bench/ensemble.py), reported apart
  tfidf     baseline A: TF-IDF n-grams + logistic regression (bench/baselines.py)
  tutorial  baseline B: the widely copied Okt + LSTM recipe (bench/baselines.py)
  tokenize  comments/second of each tokenizer backend on 50,000 comments, one worker and every core
  predict   predict.py on a 100,000-comment file with CSV output, in comments/second; the cold
            start of predict.py --text against `python -c "import tensorflow"` (median of 3 each)

Trainings, baselines and predict.py run as child processes, timed from start to exit;
their peak memory is the child's largest resident size, from the operating system
(wait4; the tokenizer's smaller worker processes are not added). Each child starts
with an empty token cache, as in a fresh clone. Results go to bench/results.json and bench/results.md (with --quick, to
bench/runs/quick/), with issue 6's targets next to the measured values. Trained runs
and the children's logs stay under bench/runs/ (not committed).
"""

import argparse
import json
import os
import platform
import random
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

from app.files import write_json_atomically, write_text_atomically

ROOT = Path(__file__).resolve().parent.parent

PARTS = ["configs", "ensemble", "tfidf", "tutorial", "tokenize", "predict"]
BASELINES = {"tfidf": "tfidf_logreg", "tutorial": "tutorial_okt_lstm"}  # part -> name in the results
ENSEMBLE = "ensemble"  # the mean of the configs' probabilities, reported apart from the single models
SEED = 42
COLD_START_TEXT = "배우들 연기가 정말 좋았어요"
COLD_START_TRIES = 3
PREDICT_TRIES = 3  # the machine's speed drifts: the median of three runs of the 100K-comment file


@dataclass(frozen=True)
class Sizes:
    """How much data each part uses; None means the whole NSMC file or the config's own value."""

    train_rows: int | None
    test_rows: int | None
    epochs: int | None
    tokenize_comments: int
    predict_comments: int


FULL = Sizes(train_rows=None, test_rows=None, epochs=None, tokenize_comments=50_000, predict_comments=100_000)
QUICK = Sizes(train_rows=5_000, test_rows=2_000, epochs=1, tokenize_comments=5_000, predict_comments=10_000)


@dataclass
class Bench:
    """Where one benchmark run reads and writes."""

    sizes: Sizes
    train_file: Path  # the labeled files every model trains and tests on
    test_file: Path
    runs_dir: Path  # trained runs, baseline metrics, logs
    work_dir: Path  # temporary: sampled data, token caches, predict input and output
    configs: Optional[list] = None  # config names the configs part trains; None: all


@dataclass
class Child:
    """A child process that ran to success: its wall seconds and peak memory."""

    seconds: float
    peak_rss_mib: float


def say(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# ----------------------------------------------------------------------------- child processes

def run_child(command, log_path, bench):
    """Run ``command`` in the project root, echo and log its output, and measure it.

    Its token cache is an empty folder of its own, so it tokenizes as a fresh clone
    would. Peak memory is wait4's ru_maxrss: the child's largest resident size (on
    Linux, or a descendant's it waited for, if larger; sizes are not added up).
    """
    env = dict(os.environ, PYTHONUNBUFFERED="1",
               KOSENT_CACHE_DIR=tempfile.mkdtemp(prefix="tokens-", dir=bench.work_dir))
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as log:
        log.write(f"$ {shown(command)}\n")
        process = subprocess.Popen([str(part) for part in command], cwd=ROOT, env=env, text=True, encoding="utf-8",
                                   errors="replace", stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for line in process.stdout:
            log.write(line)
            print("    " + line, end="", flush=True)
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so Popen must not wait again
    if process.returncode != 0:
        raise SystemExit(f"error: the child failed with exit status {process.returncode}; "
                         f"its command and output are in {log_path}")
    return Child(time.perf_counter() - started, usage.ru_maxrss / 1024)


def shown(command):
    """A command as typed in the project root: `python`, and paths there relative."""
    def one(part):
        if str(part) == sys.executable:
            return "python"
        if isinstance(part, Path) and part.is_absolute() and part.is_relative_to(ROOT.parent):
            return os.path.relpath(part, ROOT)
        return str(part)

    return shlex.join(one(part) for part in command)


# ----------------------------------------------------------------------------- data

def prepare_data(sizes, work_dir):
    """The train and test files every model uses: NSMC itself, or for --quick seeded
    random samples of it written to ``work_dir``."""
    from app.data.readers import resolve_data_path

    train, test = resolve_data_path("nsmc:train"), resolve_data_path("nsmc:test")
    if sizes.train_rows is None:
        return train, test
    return (sample_rows(train, sizes.train_rows, work_dir / "train.tsv"),
            sample_rows(test, sizes.test_rows, work_dir / "test.tsv"))


def sample_rows(source, rows, target):
    """Write the header and ``rows`` random data lines of a TSV file, copied as they are."""
    header, *lines = source.read_text(encoding="utf-8").rstrip("\n").split("\n")
    target.write_text("\n".join([header, *random.Random(SEED).sample(lines, rows)]) + "\n", encoding="utf-8")
    return target


def nsmc_comments(count):
    """The first ``count`` NSMC comments, test reviews first, then training reviews."""
    from app.config import DataConfig
    from app.data.readers import load_labeled

    texts = []
    for spec in ("nsmc:test", "nsmc:train"):
        frame, _, _ = load_labeled(spec, DataConfig())
        texts += frame["document"].tolist()
    if len(texts) < count:
        raise SystemExit(f"NSMC has {len(texts):,} comments; {count:,} were asked for")
    return texts[:count]


# ----------------------------------------------------------------------------- parts
# Each part is a generator of result updates, one per model or measurement, so that
# the results are saved as they come and a failure later keeps what was measured.

def nsmc_configs():
    """configs/*.yaml that train on nsmc:train and test on nsmc:test (quick*.yaml use the
    bundled sample; a tuning config, with its search section, is bench/tune.py's)."""
    from app.config import load_config
    from app.config.loader import read_config_mapping

    chosen = []
    for path in sorted((ROOT / "configs").glob("*.yaml")):
        if "search" in read_config_mapping(path)[1]:
            continue
        data = load_config(path).data
        if data.train == "nsmc:train" and data.test == "nsmc:test":
            chosen.append(path)
    return chosen


def default_config():
    """The config `python train.py` trains when given none."""
    from app.cli import train

    return ROOT / train.parse_args([]).config


def train_config(config, bench):
    """train.py on one config, saved as runs_dir/<config stem>; its metrics and costs."""
    from app.config import load_config

    name = config.stem
    command = [sys.executable, "train.py", "--config", config, "--models-dir", bench.runs_dir, "--name", name]
    if bench.sizes.train_rows is not None:
        command += ["--set", f"data.train={bench.train_file}", "--set", f"data.test={bench.test_file}",
                    "--set", f"train.epochs={bench.sizes.epochs}", "--set", f"pretrain.max_rows={bench.sizes.train_rows}"]
        if load_config(config).distill.unlabeled:
            command += ["--set", f"distill.max_rows={bench.sizes.train_rows}", "--set", f"distill.epochs={bench.sizes.epochs}"]
    if (bench.runs_dir / name).exists():  # else train.py would save the new run as <name>-2
        shutil.rmtree(bench.runs_dir / name)
    say(f"configs: training {config.relative_to(ROOT)}")
    child = run_child(command, bench.runs_dir / "logs" / f"{name}.log", bench)
    metrics = json.loads((bench.runs_dir / name / "metrics.json").read_text(encoding="utf-8"))
    return model_record(metrics, child, command)


def model_record(metrics, child, command):
    """What the results keep of one trained model."""
    return {
        "accuracy": metrics["accuracy"],
        "macro_f1": metrics["macro_f1"],
        "roc_auc": metrics.get("roc_auc"),
        "seconds_per_epoch": metrics.get("seconds_per_epoch"),
        "epochs_run": metrics.get("epochs_run"),
        "best_epoch": metrics.get("best_epoch"),
        "fit_s": metrics["train_seconds"],  # fitting only, as the model reports it
        "pretrain_s": metrics.get("pretrain_seconds"),  # word2vec on the unlabeled comments, when the config pretrains
        "distill": metrics.get("distill"),  # the teacher's accuracy and time, when the config distils
        "wall_s": round(child.seconds, 1),  # the whole command: imports, reading, tokenizing, fitting, testing
        "peak_rss_mib": round(child.peak_rss_mib),
        "command": shown(command),
    }


def part_configs(bench):
    """Every shipped NSMC config (or those of --configs), trained by train.py."""
    for config in nsmc_configs():
        if bench.configs is None or config.stem in bench.configs:
            yield {"models": {config.stem: train_config(config, bench)}}


def train_baseline(part, bench):
    """bench/baselines.py for one baseline, as a child process like train.py."""
    name = BASELINES[part]
    output = bench.runs_dir / f"{name}.json"
    command = [sys.executable, "bench/baselines.py", part, "--train", bench.train_file, "--test", bench.test_file,
               "--output", output]
    if part == "tutorial" and bench.sizes.epochs is not None:
        command += ["--epochs", str(bench.sizes.epochs)]
    say(f"{part}: training baseline {name}")
    child = run_child(command, bench.runs_dir / "logs" / f"{name}.log", bench)
    return {"models": {name: model_record(json.loads(output.read_text(encoding="utf-8")), child, command)}}


def part_ensemble(bench):
    """The mean of the trained configs' test probabilities (bench/ensemble.py). Its wall
    time is its own scoring; the members' training is in their own rows."""
    members = [bench.runs_dir / config.stem for config in nsmc_configs()]
    missing = [str(run) for run in members if not (run / "metrics.json").exists()]
    if missing:
        raise SystemExit(f"error: the ensemble needs the configs part's runs; missing: {', '.join(missing)}")
    output = bench.runs_dir / f"{ENSEMBLE}.json"
    command = [sys.executable, "bench/ensemble.py", "--runs", *members, "--test", bench.test_file, "--output", output]
    say(f"ensemble: scoring {', '.join(run.name for run in members)} together")
    child = run_child(command, bench.runs_dir / "logs" / f"{ENSEMBLE}.log", bench)
    record = model_record(json.loads(output.read_text(encoding="utf-8")) | {"train_seconds": None}, child, command)
    yield {"models": {ENSEMBLE: record | {"members": [run.name for run in members]}}}


def part_tfidf(bench):
    yield train_baseline("tfidf", bench)


def part_tutorial(bench):
    yield train_baseline("tutorial", bench)


def part_tokenize(bench):
    """Comments/second of each backend with one worker, then with every core.

    The token cache is off and every measurement starts cold: loading the analyzer
    (Okt's Java VM, Kiwi's model) and starting the worker processes count, as they
    do in train.py.
    """
    from app.text.backends import BACKENDS
    from app.text.tokenizer import Tokenizer

    texts = nsmc_comments(bench.sizes.tokenize_comments)
    per_second, workers_used = {}, 0
    for backend in BACKENDS.names():
        per_second[backend] = {}
        for label, workers in (("one_core", 1), ("all_cores", 0)):
            tokenizer = Tokenizer(backend, workers=workers, cache=False)
            tokenizer.tokenize(texts)
            tokenizer.close()
            run = tokenizer.last_run
            per_second[backend][label] = round(run["per_second"])
            workers_used = max(workers_used, run["workers"])
            say(f"tokenize: {backend} on {run['workers']} process(es): {len(texts):,} comments in "
                f"{run['seconds']:.1f}s, {run['per_second']:,.0f}/s")
    yield {"tokenize": {"comments": len(texts), "all_cores_workers": workers_used, "per_second": per_second}}


def part_predict(bench):
    """predict.py end to end on a file of NSMC comments, then its cold start."""
    run_dir = bench.runs_dir / default_config().stem
    source, output = bench.work_dir / "comments.tsv", bench.work_dir / "predictions.csv"
    comments = nsmc_comments(bench.sizes.predict_comments)
    source.write_text("id\tdocument\n" + "".join(f"{i}\t{text}\n" for i, text in enumerate(comments)), encoding="utf-8")
    say(f"predict: {len(comments):,} comments with {run_dir.relative_to(ROOT)}")
    command = [sys.executable, "predict.py", "--model", run_dir, source, "-o", output]
    runs = []
    for attempt in range(1, PREDICT_TRIES + 1):
        output.unlink(missing_ok=True)
        runs.append(run_child(command, bench.runs_dir / "logs" / f"predict-{attempt}.log", bench))
        written = count_csv_rows(output)
        if written != len(comments):
            raise SystemExit(f"error: predict.py wrote {written:,} rows for {len(comments):,} comments")
        say(f"predict: try {attempt}: {runs[-1].seconds:.2f}s")
    seconds = statistics.median(child.seconds for child in runs)
    yield {"predict": {"comments": len(comments), "seconds": round(seconds, 2), "per_second": round(len(comments) / seconds),
                       "tries_s": [round(child.seconds, 2) for child in runs],
                       "peak_rss_mib": round(max(child.peak_rss_mib for child in runs)),
                       "command": shown(command), **cold_start(run_dir, bench)}}


def count_csv_rows(path):
    import csv

    with open(path, encoding="utf-8", newline="") as handle:
        return sum(1 for _ in csv.reader(handle)) - 1  # minus the header


def cold_start(run_dir, bench):
    """Wall seconds of `predict.py --text` and of `python -c "import tensorflow"`,
    alternated so both see the same load on the machine; medians and every try."""
    commands = {"tf_import": [sys.executable, "-c", "import tensorflow"],
                "cold_start": [sys.executable, "predict.py", "--model", run_dir, "--text", COLD_START_TEXT]}
    tries = {name: [] for name in commands}
    for attempt in range(1, COLD_START_TRIES + 1):
        for name, command in commands.items():
            seconds = run_child(command, bench.runs_dir / "logs" / f"{name}.log", bench).seconds
            tries[name].append(round(seconds, 2))
            say(f"predict: {name} try {attempt}: {seconds:.2f}s")
    return {f"{name}_s": statistics.median(values) for name, values in tries.items()} | \
        {f"{name}_tries_s": values for name, values in tries.items()}


PART_FUNCTIONS = {"configs": part_configs, "ensemble": part_ensemble, "tfidf": part_tfidf, "tutorial": part_tutorial,
                  "tokenize": part_tokenize, "predict": part_predict}


# ----------------------------------------------------------------------------- targets

def targets(results):
    """Issue 6's targets next to the measured values, one row each."""
    models, tokenize, predict = results.get("models", {}), results.get("tokenize"), results.get("predict")
    return [best_config_target(models), *(beats_tfidf_target(models, name) for name in ("lstm", "gru")),
            simple_rnn_target(models), tokenizer_target(tokenize), *predict_targets(predict), tutorial_target(models)]


def verdict(target, measured=None, met=False, needs=None):
    """A row of the targets table: met or gap, or what is needed to measure it."""
    if measured is None:
        return {"target": target, "measured": f"needs {needs}", "verdict": "not measured"}
    return {"target": target, "measured": measured, "verdict": "met" if met else "gap"}


def best_config_target(models):
    target, best = "configs/best.yaml: test accuracy >= 89.0% in <= 45 min wall time", models.get("best")
    if not best:
        return verdict(target, needs="a configs/best.yaml run")
    return verdict(target, f"{best['accuracy']:.2%} in {best['wall_s'] / 60:.1f} min",
                   best["accuracy"] >= 0.89 and best["wall_s"] <= 45 * 60)


def beats_tfidf_target(models, name):
    target, mine, tfidf = f"configs/{name}.yaml beats the TF-IDF baseline", models.get(name), models.get(BASELINES["tfidf"])
    if not (mine and tfidf):
        return verdict(target, needs="the configs and tfidf parts")
    return verdict(target, f"{mine['accuracy']:.2%} vs {tfidf['accuracy']:.2%}", mine["accuracy"] > tfidf["accuracy"])


def simple_rnn_target(models):
    target, mine = "configs/simple_rnn.yaml: test accuracy >= 84%", models.get("simple_rnn")
    if not mine:
        return verdict(target, needs="the configs part")
    return verdict(target, f"{mine['accuracy']:.2%}", mine["accuracy"] >= 0.84)


def tokenizer_target(tokenize):
    from app.config import load_config

    backend = load_config(default_config()).tokenizer.backend
    target = f"default tokenizer ({backend}) >= 25,000 comments/s on 2 cores"
    if not tokenize:
        return verdict(target, needs="the tokenize part")
    rate = tokenize["per_second"][backend]["all_cores"]
    return verdict(target, f"{rate:,}/s on {tokenize['all_cores_workers']} processes", rate >= 25_000)


def predict_targets(predict):
    speed, cold = "predict.py >= 5,000 comments/s end to end", "cold start <= TensorFlow import + 1.5 s"
    if not predict:
        return [verdict(speed, needs="the predict part"), verdict(cold, needs="the predict part")]
    limit = predict["tf_import_s"] + 1.5
    return [verdict(speed, f"{predict['per_second']:,}/s", predict["per_second"] >= 5_000),
            verdict(cold, f"{predict['cold_start_s']:.2f} s; limit {limit:.2f} s (import {predict['tf_import_s']:.2f} s + 1.5)",
                    predict["cold_start_s"] <= limit)]


def tutorial_target(models):
    name = default_config().stem
    target = f"default train.py ({name}) >= 3x faster than the tutorial recipe end to end, and more accurate"
    mine, tutorial = models.get(name), models.get(BASELINES["tutorial"])
    if not (mine and tutorial):
        return verdict(target, needs="the configs and tutorial parts")
    speedup = tutorial["wall_s"] / mine["wall_s"]
    return verdict(target, f"{speedup:.1f}x faster; {mine['accuracy']:.2%} vs {tutorial['accuracy']:.2%}",
                   speedup >= 3 and mine["accuracy"] > tutorial["accuracy"])


# ----------------------------------------------------------------------------- results

def summary(results):
    """The flat keys of results.json: one value per config or baseline, per backend, or one number."""
    models = results.get("models", {})
    flat = {key: {name: model[key] for name, model in models.items()}
            for key in ("accuracy", "macro_f1", "seconds_per_epoch", "wall_s", "fit_s", "peak_rss_mib")}
    if "tokenize" in results:
        flat["tokenize_per_s"] = results["tokenize"]["per_second"]
    if "predict" in results:
        flat |= {"predict_per_s": results["predict"]["per_second"], "cold_start_s": results["predict"]["cold_start_s"],
                 "tf_import_s": results["predict"]["tf_import_s"]}
    return flat


def markdown(results):
    """results.md: what was measured, where and when, the tables, then the targets."""
    measured_at = ", ".join(f"{part} {when}" for part, when in results["measured_at"].items())
    lines = ["# Benchmark results (bench/run.py)", ""]
    if results["quick"]:
        lines += ["**--quick**: a smoke test on small samples (see `sizes` in results.json), not results to quote.", ""]
    lines += [f"Machine: {results['machine']['cores']} cores, {results['machine']['platform']}. "
              f"Parts measured at: {measured_at}.", ""]
    if results["models"]:
        lines += models_table(results["models"])
    if "tokenize" in results:
        lines += tokenize_table(results["tokenize"])
    if "predict" in results:
        lines += predict_table(results["predict"])
    lines += ["## Targets (issue 6)", "", "| target | measured | verdict |", "|---|---|---|"]
    lines += [f"| {t['target']} | {t['measured']} | {t['verdict']} |" for t in results["targets"]]
    return "\n".join(lines) + "\n"


def models_table(models):
    lines = ["## Accuracy and training cost", "",
             "| model | test accuracy | macro-F1 | s/epoch | epochs (best) | pretrain s | fit s | wall s | peak MiB |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, m in models.items():
        epochs = f"{m['epochs_run']} ({m['best_epoch']})" if m["epochs_run"] else "-"
        lines.append(f"| {name} | {m['accuracy']:.4f} | {m['macro_f1']:.4f} | {m['seconds_per_epoch'] or '-'} | "
                     f"{epochs} | {m.get('pretrain_s') or '-'} | {m['fit_s'] or '-'} | {m['wall_s']} | {m['peak_rss_mib']:,} |")
    lines += ["", "pretrain s: word2vec on the unlabeled reviews; fit s: fitting alone; wall s: the whole command "
              "(imports, reading, tokenizing, pretraining, fitting, testing); for the ensemble, scoring only "
              "(its members' training is in their rows).", *distilled_notes(models),
              "", "Commands:", ""]
    return lines + [f"- {name}: `{m['command']}`" for name, m in models.items()] + [""]


def distilled_notes(models):
    """A paragraph for each config trained by distillation: its teacher, which its wall time includes."""
    lines = []
    for name, m in models.items():
        teacher = m.get("distill")
        if teacher:
            ngrams = teacher.get("teacher_ngram_accuracy", teacher.get("teacher_tfidf_accuracy"))  # before ced5c43
            lines += ["", f"{name}: distilled from a teacher (its recurrent model {teacher['teacher_recurrent_accuracy']:.4f}, "
                          f"n-grams {ngrams:.4f}, their mean {teacher['teacher_accuracy']:.4f}) "
                          f"trained and run in {teacher['teacher_seconds']:.0f} s, on {teacher['unlabeled_comments']:,} "
                          f"unlabeled reviews; s/epoch and fit s are the student's."]
    return lines


def tokenize_table(tokenize):
    lines = [f"## Tokenizing {tokenize['comments']:,} comments (comments/s; cache off, start-up included)", "",
             f"| backend | 1 process | {tokenize['all_cores_workers']} processes |", "|---|---|---|"]
    return lines + [f"| {backend} | {rate['one_core']:,} | {rate['all_cores']:,} |"
                    for backend, rate in tokenize["per_second"].items()] + [""]


def predict_table(predict):
    def median_of(tries):  # results.json of runs before the tries were kept has none
        return f" (median of {tries})" if tries else ""

    def tries(name):
        return f"{predict[name + '_s']} s{median_of(predict.get(name + '_tries_s'))}"

    return ["## predict.py", "", "| measure | value |", "|---|---|",
            f"| {predict['comments']:,} comments in, CSV out | {predict['seconds']} s{median_of(predict.get('tries_s'))}, "
            f"{predict['per_second']:,} comments/s, peak {predict['peak_rss_mib']:,} MiB |",
            f"| cold start: `predict.py --model <run> --text \"{COLD_START_TEXT}\"` | {tries('cold_start')} |",
            f"| `python -c \"import tensorflow\"` | {tries('tf_import')} |",
            "", f"Command: `{predict['command']}`", ""]


def ordered_models(models):
    """The configs by name, then the ensemble, then the baselines."""
    return dict(sorted(models.items(), key=lambda item: (item[0] in BASELINES.values(), item[0] == ENSEMBLE, item[0])))


def save(results, folder):
    """Write results.json (flat keys first, then everything measured) and results.md."""
    results["targets"] = targets(results)
    write_json_atomically(folder / "results.json", summary(results) | results)
    write_text_atomically(folder / "results.md", markdown(results))


def previous_results(folder, quick):
    """The parts a previous run of the same kind measured, to keep those not run now."""
    path = folder / "results.json"
    if not path.exists():
        return {}
    old = json.loads(path.read_text(encoding="utf-8"))
    if old.get("quick") != quick:
        return {}
    return {key: old[key] for key in ("models", "tokenize", "predict", "measured_at") if key in old}


def measured_now(measured_at, part, models, chosen_configs):
    """``measured_at`` (part -> time) after ``part`` measured ``models`` just now. With
    --configs, each retrained config gets its own entry and the others keep the part's
    older time; a run of every config replaces those entries."""
    when = time.strftime("%Y-%m-%d %H:%M")
    if part == "configs" and chosen_configs:
        return measured_at | {f"configs ({name})": when for name in models}
    if part == "configs":
        measured_at = {key: value for key, value in measured_at.items() if not key.startswith("configs (")}
    return measured_at | {part: when}


# ----------------------------------------------------------------------------- main

def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke test: {QUICK.train_rows:,} training and {QUICK.test_rows:,} test rows, "
                             f"{QUICK.epochs} epoch, {QUICK.tokenize_comments:,} comments to tokenize, "
                             f"{QUICK.predict_comments:,} to predict")
    parser.add_argument("--only", type=parts_list, default=PARTS, metavar="PARTS",
                        help=f"comma-separated parts to run: {','.join(PARTS)} (default: all)")
    parser.add_argument("--configs", type=configs_list, metavar="NAMES",
                        help="with the configs part: train only these configs, e.g. best,lstm (default: every NSMC config); "
                             "the others keep their earlier results")
    args = parser.parse_args(argv)
    if args.configs and "configs" not in args.only:
        parser.error("--configs chooses what the configs part trains; add configs to --only")
    return args


def names_from(known, what):
    """An argparse type: comma-separated names, each one of ``known``, in the order of ``known``."""
    def parse(text):
        names = [name.strip() for name in text.split(",") if name.strip()]
        unknown = [name for name in names if name not in known]
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"unknown {what} {', '.join(unknown) or '(none)'}; choose from {', '.join(known)}")
        return [name for name in known if name in names]
    return parse


def parts_list(text):
    return names_from(PARTS, "part(s)")(text)


def configs_list(text):
    return names_from([path.stem for path in nsmc_configs()], "config(s)")(text)


def main(argv=None):
    args = parse_args(argv)
    sizes = QUICK if args.quick else FULL
    results_dir = ROOT / "bench" / "runs" / "quick" if args.quick else ROOT / "bench"
    runs_dir = ROOT / "bench" / "runs" / "quick" if args.quick else ROOT / "bench" / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    (ROOT / "bench" / "runs" / ".gitignore").write_text("*\n", encoding="utf-8")  # trained runs are not committed
    if "predict" in args.only and "configs" not in args.only and not (runs_dir / default_config().stem).is_dir():
        raise SystemExit(f"error: predict needs {runs_dir / default_config().stem}, the default config's run; "
                         f"run the configs part first")
    results = {"quick": args.quick, "sizes": asdict(sizes),
               "machine": {"cores": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
               **previous_results(results_dir, args.quick)}
    results.setdefault("models", {})
    results.setdefault("measured_at", {})
    with tempfile.TemporaryDirectory(prefix="kosent-bench-") as work:
        bench = Bench(sizes, *prepare_data(sizes, Path(work)), runs_dir=runs_dir, work_dir=Path(work), configs=args.configs)
        for part in args.only:
            say(f"{part}: start")
            for measured in PART_FUNCTIONS[part](bench):  # saved as each model or measurement is done
                models = measured.pop("models", {})
                results["models"] = ordered_models(results["models"] | models)
                results |= measured
                results["measured_at"] = measured_now(results["measured_at"], part, models, args.configs)
                save(results, results_dir)
            say(f"{part}: done; results in {results_dir.relative_to(ROOT)}/results.md")
    for target in results["targets"]:
        say(f"target: {target['target']}: {target['measured']} ({target['verdict']})")


if __name__ == "__main__":
    sys.exit(main())
