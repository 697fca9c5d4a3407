"""Fault injection: kill predict.py and train.py at random moments and check that
nothing is ever half-written.

    python bench/faults.py predict --model models/<run> [--tries 30] [--rows 100000] [--runtime onnx]
    python bench/faults.py train [--tries 5] [--config tests/tiny.yaml]

predict: a first, uninterrupted run measures how long predict.py takes; then each
try starts it writing ``-o`` over an older file, with two tokenizer processes, and
sends it SIGKILL or SIGTERM after a random delay up to 1.2 times that (so some land
after the rename), or, every fifth try, once the tokenizer workers run. It checks that the output holds either the old
content or the complete new one (every row, each with a status), that SIGTERM leaves
no temporary or lock file, and that no tokenizer worker outlives predict.py by more
than WORKER_GRACE_S.

train: each try kills train.py at a random moment, then runs ``--resume`` (or a fresh
training when no checkpoint was written yet). It checks that the models folder never
holds a run that does not load, nor a staging directory, and that the resumed training
publishes one complete run.

One line per try, then a summary; the exit status is 1 when any check failed.
Bounded: ``--tries`` tries, each stopped after ``--timeout`` seconds.
"""

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKER_GRACE_S = 10  # a worker checks for its parent every 0.5 s; the rest is a busy machine's slack
OLD = "an older file that must stay whole until the new one replaces it\n"


def comment_file(path: Path, rows: int) -> Path:
    """A .txt of ``rows`` short Korean comments, one a line."""
    words = ["정말", "재밌어요", "최악이다", "배우", "연기", "시간", "아깝다", "좋았다", "ㅋㅋ", "별로"]
    with open(path, "w", encoding="utf-8") as handle:
        for n in range(rows):
            handle.write(f"{words[n % 10]} {words[(n * 7) % 10]} {words[(n * 3) % 10]} {n}\n")
    return path


def descendants(pid: int) -> list[int]:
    """Every living process below ``pid`` (children, their children...), from /proc."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        below = children.get(todo.pop(), [])
        found += below
        todo += below
    return found


def alive(pids: list[int]) -> list[int]:
    """Those of ``pids`` still running (a zombie is not)."""
    running = []
    for pid in pids:
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                running.append(pid)
        except (OSError, IndexError):
            pass
    return running


def output_state(output: Path, rows: int) -> str:
    """"old" (untouched), "complete" (every row of the new output, each with a
    status), or what is wrong with it."""
    data = output.read_bytes() if output.exists() else None
    if data is None:
        return "missing"
    if data.decode("utf-8", "replace") == OLD:
        return "old"
    import pandas as pd

    try:
        frame = pd.read_csv(output, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except Exception as error:  # any parse failure means a damaged file
        return f"damaged ({type(error).__name__})"
    if len(frame) != rows or not data.endswith(b"\r\n") or (frame["status"] == "").any():
        return f"partial ({len(frame):,} of {rows:,} rows)"
    return "complete"


def kill_predict(model: str, source: Path, output: Path, rows: int, signal_number: int, delay: float | None,
                 runtime: str = "onnx", timeout: float = 300) -> dict:
    """One try: predict.py writing ``output`` (which holds OLD) is sent ``signal_number``
    after ``delay`` seconds (None: once its tokenizer workers run). Returns what was seen."""
    output.write_text(OLD, encoding="utf-8")
    workers = min(2, os.cpu_count() or 1)
    command = [sys.executable, str(ROOT / "predict.py"), "--model", model, "--runtime", runtime,
               "--workers", str(workers), str(source), "-o", str(output)]
    # stderr to a file, not a pipe: an orphaned worker would hold a pipe open and make waiting for it hang
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors, cwd=ROOT,
                                   env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        started, below = time.monotonic(), []
        while process.poll() is None and time.monotonic() - started < timeout:
            below = descendants(process.pid)
            if (delay is None and _has_grandchildren(process.pid, below)) or (
                    delay is not None and time.monotonic() - started >= delay):
                break
            time.sleep(0.05)
        waited = time.monotonic() - started
        if process.poll() is None:
            below = descendants(process.pid)
            process.send_signal(signal_number)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        errors.seek(0)
        err = errors.read().decode("utf-8", "replace")
    deadline = time.monotonic() + WORKER_GRACE_S
    while alive(below) and time.monotonic() < deadline:
        time.sleep(0.1)
    survivors = alive(below)
    for pid in survivors:  # not to leave them to the next try; reported as a failure
        os.kill(pid, signal.SIGKILL)
    leftovers = sorted(path.name for path in output.parent.glob(f".{output.name}.*"))
    return {"signal": signal.Signals(signal_number).name, "after_s": round(waited, 2), "returncode": process.returncode,
            "output": output_state(output, rows), "processes_below": len(below), "survivors": len(survivors),
            "leftovers": leftovers, "stderr": err.strip().splitlines()[-1:] if err else []}


def _has_grandchildren(pid: int, below: list[int]) -> bool:
    """Whether the forkserver under ``pid`` has forked tokenizer workers."""
    children = {child for child in below if _parent(child) == pid}
    return any(_parent(other) in children for other in below)


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def predict_problems(outcome: dict) -> list[str]:
    """What is wrong with one kill_predict outcome (nothing: [])."""
    problems = []
    if outcome["output"] not in ("old", "complete"):
        problems.append(f"output {outcome['output']}")
    if outcome["survivors"]:
        problems.append(f"{outcome['survivors']} process(es) outlived predict.py by {WORKER_GRACE_S} s")
    if outcome["signal"] == "SIGTERM" and outcome["leftovers"]:
        problems.append(f"SIGTERM left {', '.join(outcome['leftovers'])}")
    return problems


def kill_train(config: str, models_dir: Path, signal_number: int, delay: float, timeout: float = 900) -> dict:
    """One try: train.py killed after ``delay`` seconds, then ``--resume`` (or a fresh
    training when nothing was checkpointed) run to its end."""
    from app.artifacts.run import SavedRun

    command = [sys.executable, str(ROOT / "train.py"), "--config", config, "--models-dir", str(models_dir), "--name", "faults"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, env=env)
    try:
        process.wait(timeout=delay)
        killed = False
    except subprocess.TimeoutExpired:
        process.send_signal(signal_number)
        process.wait(timeout=timeout)
        killed = True
    runs = sorted(path for path in models_dir.glob("faults*") if path.is_dir())
    broken = [path.name for path in runs if not _loads(SavedRun, path)]
    staging = sorted(path.name for path in models_dir.glob(".faults*"))
    resumed = subprocess.run(command + ["--resume"], capture_output=True, text=True, cwd=ROOT, env=env, timeout=timeout)
    if resumed.returncode == 2 and "no interrupted training" in resumed.stderr:  # killed before the first checkpoint
        resumed = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, timeout=timeout)
    after = sorted(path for path in models_dir.glob("faults*") if path.is_dir())
    new_runs = [path for path in after if path not in runs]
    return {"signal": signal.Signals(signal_number).name, "after_s": round(delay, 2), "killed": killed,
            "runs_before_resume": len(runs), "broken": broken, "staging": staging,
            "resume_returncode": resumed.returncode, "published": [path.name for path in new_runs],
            "published_loads": all(_loads(SavedRun, path) for path in new_runs),
            "checkpoint_left": any((models_dir / ".checkpoints").glob("*")) if (models_dir / ".checkpoints").exists() else False}


def _loads(saved_run, path: Path) -> bool:
    try:
        saved_run.load(path, keras_model=False)
        return True
    except Exception:  # any refusal means the run is not whole
        return False


def train_problems(outcome: dict) -> list[str]:
    """What is wrong with one kill_train outcome (nothing: [])."""
    problems = []
    if outcome["broken"]:
        problems.append(f"runs that do not load: {', '.join(outcome['broken'])}")
    if outcome["staging"]:
        problems.append(f"staging left: {', '.join(outcome['staging'])}")
    if outcome["resume_returncode"] != 0:
        problems.append(f"--resume exited {outcome['resume_returncode']}")
    elif not outcome["published"] or not outcome["published_loads"]:
        problems.append("the resumed training published no complete run")
    if outcome["checkpoint_left"]:
        problems.append("a checkpoint outlived the finished run")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tool", choices=["predict", "train"])
    parser.add_argument("--model", help="predict: a run directory (with an ONNX export for --runtime onnx)")
    parser.add_argument("--runtime", choices=["keras", "onnx"], default="onnx")
    parser.add_argument("--config", default="tests/tiny.yaml", help="train: the config trained (default: %(default)s)")
    parser.add_argument("--tries", type=int, default=30)
    parser.add_argument("--rows", type=int, default=100_000, help="predict: comments in the input")
    parser.add_argument("--max-delay", type=float, default=None,
                        help="latest kill, in seconds (default: 1.2 times an uninterrupted predict.py; 40 for train)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.tool == "predict" and not args.model:
        parser.error("predict needs --model")
    rng = random.Random(args.seed)
    failures = 0
    with tempfile.TemporaryDirectory(prefix="kosent-faults-") as folder:
        folder = Path(folder)
        source = comment_file(folder / "comments.txt", args.rows) if args.tool == "predict" else None
        if args.tool == "predict" and args.max_delay is None:
            started = time.monotonic()
            whole = kill_predict(args.model, source, folder / "predictions.csv", args.rows, signal.SIGKILL, 10_000,
                                 args.runtime)
            args.max_delay = 1.2 * (time.monotonic() - started)
            print(f"uninterrupted: {whole['output']} in {args.max_delay / 1.2:.1f}s; kills up to {args.max_delay:.1f}s",
                  flush=True)
            if whole["output"] != "complete":
                print(f"predict.py did not complete: {whole}")
                return 1
        for number in range(1, args.tries + 1):
            signal_number = rng.choice([signal.SIGKILL, signal.SIGTERM])
            if args.tool == "predict":
                delay = None if number % 5 == 1 else rng.uniform(0.2, args.max_delay)
                outcome = kill_predict(args.model, source, folder / "predictions.csv", args.rows, signal_number, delay,
                                       args.runtime)
                problems = predict_problems(outcome)
                for path in folder.glob(".predictions.csv.*"):  # a SIGKILL's temporary file, expected
                    path.unlink()
            else:
                outcome = kill_train(args.config, folder / f"models-{number}", signal_number,
                                     rng.uniform(1, args.max_delay or 40))
                problems = train_problems(outcome)
            failures += bool(problems)
            print(f"try {number}: {outcome} {'FAILED: ' + '; '.join(problems) if problems else 'ok'}", flush=True)
    print(f"{args.tool}: {args.tries - failures} of {args.tries} tries ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
