"""spark_predict.py on a local Spark against predict.py, on the same 1M comments and the
same machine: comments a second and peak memory of each.

    python -m bench.spark --model models/lstm [--rows 1000000] [--master "local[2]"]

The run is copied into a temporary folder and exported to ONNX there (the run given
is not changed); both tools score with ``--runtime onnx``. The input is --rows NSMC
training reviews (``ratings_train``, repeated, with an id column) in a TSV file under
the temporary folder. Each tool is a child process timed from start to exit (so
Spark's start-up, the JVM's and its Python workers', counts); its memory is the
resident set of its whole process tree (the JVM and Spark's Python workers, or
predict.py's tokenizer processes) sampled every 0.2 s: the peak of the sum, and the
largest single Spark Python worker (what a cluster's executor needs per task). The
load average before and after is recorded: on a shared machine others' work slows
both. Writes bench/spark.json.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from app.files import write_json_atomically
from bench.export import write_comments
from bench.process_tree import ROOT, Sizes, run_measured


def spark_groups(sizes: Sizes) -> dict[str, float]:
    """The largest Spark Python worker (what an executor needs per task) and the JVM, in MiB."""
    groups = {"spark_python_worker": 0.0, "jvm": 0.0}
    for rss, parent, line in sizes.values():
        if "java" in line.split(" ", 1)[0]:
            groups["jvm"] = max(groups["jvm"], rss)
        elif "pyspark.daemon" in line and "pyspark.daemon" in sizes.get(parent, (0, 0, ""))[2]:  # forked by the daemon
            groups["spark_python_worker"] = max(groups["spark_python_worker"], rss)
    return groups


def measured(command: list[str]) -> dict:
    """Run ``command`` from the project root: seconds, peak MiB of its process tree, of
    its largest Spark Python worker and of its JVM, and the load averages."""
    load_before = os.getloadavg()[0]
    status, errors, seconds, peaks = run_measured(command, spark_groups)
    if status != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{errors[-3000:]}")
    last_line = [line for line in errors.replace("\r", "\n").splitlines() if line.startswith("predicted ")][-1]
    return {"seconds": round(seconds, 1), "peak_mib": {key: round(value) for key, value in peaks.items() if value},
            "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2), "tool_said": last_line}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="a run directory (copied and exported to ONNX)")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--output", default=str(ROOT / "bench" / "spark.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kosent-bench-spark-") as folder:
        folder = Path(folder)
        run = folder / Path(args.model).name
        shutil.copytree(args.model, run)
        subprocess.run([sys.executable, "-m", "app.export", "--model", str(run), "--format", "onnx"], cwd=ROOT, check=True,
                       capture_output=True)
        comments = folder / "comments.tsv"
        write_comments(comments, args.rows)
        results = {"model": args.model, "rows": args.rows, "input_mb": round(comments.stat().st_size / 1e6, 1),
                   "cpu_count": os.cpu_count(), "master": args.master}
        tools = {
            "predict.py": [sys.executable, "predict.py", "--model", str(run), "--runtime", "onnx", str(comments),
                           "-o", str(folder / "predictions.csv")],
            "spark_predict.py": [sys.executable, "spark_predict.py", "--model", str(run), "--runtime", "onnx",
                                 "--master", args.master, str(comments), "-o", str(folder / "predictions.parquet")],
        }
        for name, command in tools.items():
            print(f"{name} on {args.rows:,} comments ...", file=sys.stderr, flush=True)
            result = measured(command)
            result["comments_per_s"] = round(args.rows / result["seconds"])
            results[name] = result
            print(f"  {result['seconds']}s, {result['comments_per_s']:,}/s, peak {result['peak_mib']} MiB "
                  f"(load {result['load_before']} -> {result['load_after']})", file=sys.stderr, flush=True)
    write_json_atomically(args.output, results)
    print(f"wrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
