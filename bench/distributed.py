"""Two workers against one: does training under tf.distribute reach the accuracy of
an ordinary training with the same global batch and seed?

    python bench/distributed.py [--config configs/lstm.yaml] [--rows 30000] [--workers 2]

Trains --config on --rows NSMC training reviews (data.max_rows) twice: once as plain
``train.py`` (one worker) and once as ``train.py --distributed`` on --workers
processes of this machine (127.0.0.1, TF_CONFIG from app.training.distributed
.local_tf_configs), everything else equal; both report on the NSMC test file. The
first run fills the token and word-vector caches the second reads. Each run's wall
time is the command's, from start to exit; the machine's load average is recorded
before it (other work slows these figures; the workers share this machine's cores).
Writes bench/distributed.json and prints one line per run.

    python bench/distributed.py --worker-loss [--repeats 3]

instead kills worker 1 of a two-worker tests/tiny.yaml job after its first checkpoint
and times how long worker 0 takes to notice (TensorFlow's health check) and stop with
its one-line error; added to bench/distributed.json as "worker_loss".
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.files import write_json_atomically  # noqa: E402
from app.training.distributed import local_tf_configs  # noqa: E402


def train(command: list[str], tf_configs: list[str | None], models: Path, name: str) -> dict:
    """Run ``command`` once per TF_CONFIG (in parallel) and read the chief's run."""
    load, started = os.getloadavg()[0], time.perf_counter()
    workers, logs = [], [models / f"{name}-worker{index}.log" for index in range(len(tf_configs))]
    for tf_config, log in zip(tf_configs, logs):
        env = dict(os.environ, **({"TF_CONFIG": tf_config} if tf_config else {}))
        with open(log, "w", encoding="utf-8") as output:  # the child keeps its own handle
            workers.append(subprocess.Popen([sys.executable, "train.py", *command, "--models-dir", str(models),
                                             "--name", name], cwd=ROOT, env=env, stdout=output,
                                            stderr=subprocess.STDOUT))
    for worker in workers:
        worker.wait()
    seconds = time.perf_counter() - started
    for worker, log in zip(workers, logs):
        if worker.returncode != 0:
            raise SystemExit(f"train.py {' '.join(command)} failed:\n{log.read_text(encoding='utf-8')[-3000:]}")
    metrics = json.loads((models / name / "metrics.json").read_text(encoding="utf-8"))
    return {"workers": len(tf_configs), "test_accuracy": metrics["accuracy"], "test_macro_f1": metrics["macro_f1"],
            "epochs_run": metrics["epochs_run"], "best_epoch": metrics["best_epoch"],
            "seconds_per_epoch": metrics["seconds_per_epoch"], "wall_seconds": round(seconds, 1),
            "load_before": round(load, 2)}


def worker_loss(work: Path) -> dict:
    """Seconds from killing worker 1 (after the first checkpoint) to worker 0's exit, and its last line."""
    models = work / "worker-loss"
    command = ["train.py", "--config", "tests/tiny.yaml", "--set", "train.epochs=40", "--set",
               "train.early_stopping.enabled=false", "--models-dir", str(models), "--name", "tiny", "--distributed"]
    workers = [subprocess.Popen([sys.executable, *command], cwd=ROOT, env=dict(os.environ, TF_CONFIG=tf_config),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for tf_config in local_tf_configs(2)]
    while not any(not p.parent.name.startswith(".") for p in models.glob(".checkpoints/*/state.json")):
        time.sleep(0.05)
    workers[1].send_signal(signal.SIGKILL)
    killed = time.perf_counter()
    output = workers[0].communicate(timeout=600)[0]
    workers[1].wait()
    return {"seconds": round(time.perf_counter() - killed, 1), "exit_code": workers[0].returncode,
            "last_line": output.strip().splitlines()[-1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/lstm.yaml")
    parser.add_argument("--rows", type=int, default=30000, help="NSMC training reviews (data.max_rows)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "bench" / "distributed.json"))
    parser.add_argument("--work", help="where the runs and each worker's log go (default: a temporary folder)")
    parser.add_argument("--worker-loss", action="store_true", help="time how a worker's death stops the others")
    parser.add_argument("--repeats", type=int, default=3, help="with --worker-loss")
    args = parser.parse_args()
    if args.worker_loss:
        load = os.getloadavg()[0]
        with tempfile.TemporaryDirectory(dir=args.work) as scratch:
            trials = [worker_loss(Path(scratch) / str(trial)) for trial in range(args.repeats)]
        for trial in trials:
            print(f"worker 0 stopped {trial['seconds']} s after worker 1 was killed: {trial['last_line']}")
        out = Path(args.out)
        result = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
        result["worker_loss"] = {"command": "python bench/distributed.py " + " ".join(sys.argv[1:]), "trials": trials,
                                 "load_before": round(load, 2)}
        write_json_atomically(out, result)
        return
    command = ["--config", args.config, "--set", f"data.max_rows={args.rows}"]
    with tempfile.TemporaryDirectory(dir=args.work) as scratch:
        models = Path(scratch)
        print(f"runs and logs in {models}", flush=True)
        one = train(command, [None], models, "one")
        print(f"1 worker: test accuracy {one['test_accuracy']:.4f} in {one['wall_seconds']} s", flush=True)
        many = train([*command, "--distributed"], local_tf_configs(args.workers), models, "many")
        print(f"{args.workers} workers: test accuracy {many['test_accuracy']:.4f} in {many['wall_seconds']} s")
    gap = round(100 * abs(many["test_accuracy"] - one["test_accuracy"]), 2)
    result = {"command": "python bench/distributed.py " + " ".join(sys.argv[1:]), "config": args.config,
              "rows": args.rows, "cpu_cores": os.cpu_count(), "runs": [one, many],
              "accuracy_gap_points": gap, "within_half_a_point": gap <= 0.5,
              "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    write_json_atomically(args.out, result)
    print(f"gap {gap} accuracy points (within 0.5: {gap <= 0.5}); wrote {args.out}")


if __name__ == "__main__":
    main()
