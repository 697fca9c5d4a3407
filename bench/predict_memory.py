"""Peak memory and speed of predict.py on large comment files (100K and 1M rows).

    python bench/predict_memory.py --model models/<run> [--rows 100000 1000000]

Builds each input file from NSMC test reviews (repeated, with a running id) in a
temporary folder, runs predict.py on it in a child process, and reads the child's
peak resident memory from the operating system. Writes bench/predict_memory.json.
"""

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from app.data.readers import resolve_data_path  # noqa: E402
from app.files import write_json_atomically  # noqa: E402


def write_input(path, rows):
    reviews = [line.split("\t")[1] for line in resolve_data_path("nsmc:test").read_text(encoding="utf-8").splitlines()[1:]]
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write("id\tdocument\n")
        for i in range(rows):
            handle.write(f"{i}\t{reviews[i % len(reviews)]}\n")


def measure(model, rows, folder):
    source, output = folder / f"comments_{rows}.tsv", folder / f"predictions_{rows}.csv"
    write_input(source, rows)
    started = time.perf_counter()
    result = subprocess.run([sys.executable, str(ROOT / "predict.py"), "--model", str(model), str(source), "-o", str(output)],
                            capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(result.stderr[-2000:])
    with open(output, encoding="utf-8") as handle:
        written = sum(1 for _ in csv.reader(handle)) - 1
    # ru_maxrss of children: the largest child so far (predict.py; tokenizer workers are smaller)
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"rows": rows, "rows_written": written, "seconds": round(seconds, 1),
            "comments_per_second": round(rows / seconds), "peak_rss_mib": round(peak_mib)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for rows in sorted(args.rows):  # ascending, so each peak belongs to its own (largest so far) run
            results.append(measure(args.model, rows, Path(folder)))
            print(json.dumps(results[-1]), flush=True)
    write_json_atomically(ROOT / "bench" / "predict_memory.json", results)


if __name__ == "__main__":
    main()
