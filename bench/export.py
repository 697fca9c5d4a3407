"""Exported models against Keras: export time and sizes, predict.py's cold start, its
throughput on 100K comments and its peak memory on 1M (the first model's), with
--runtime onnx and keras, and for LSTM runs with onnx after ``--quantize int8``.

    python -m bench.export --model models/lstm --model models/best [--rows 100000] [--memory-rows 1000000]

Each run is copied into a temporary folder and exported there (the run given is not
changed). Every figure is a child process timed from start to exit: the export
(``python -m app.export``), ``predict.py --text "배우들 연기가 정말 좋았어요"`` (the cold
start, median of --repeats after a warm-up run), and predict.py on a file of --rows NSMC training reviews
(``ratings_train``, never the test file), CSV out (median of --repeats). Peak memory is
the resident set of its whole process tree (predict.py and its worker processes),
sampled every 0.2 s (bench/process_tree.py). The machine's load
average is recorded beside each figure: other work on the machine slows them.
Writes bench/export.json and prints a Markdown table.
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from app.artifacts.run import read_config
from app.data.readers import resolve_data_path
from app.export.onnx_quantize import QUANTIZABLE_CELLS
from app.files import write_json_atomically
from bench.process_tree import ROOT, run_measured

COMMENT = "배우들 연기가 정말 좋았어요"
INT8 = "onnx int8"  # --runtime onnx after app.export --quantize int8 (LSTM runs)


def timed(command: list[str]) -> dict:
    """Run ``command`` from the project root; its seconds, peak MiB and the load average before it."""
    load = os.getloadavg()[0]
    status, errors, seconds, peaks = run_measured(command)
    if status != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{errors[-3000:]}")
    return {"seconds": seconds, "peak_mib": peaks["total"], "load": load}


def median_of(repeats: int, command: list[str]) -> dict:
    """The median seconds of ``repeats`` runs after one unmeasured run, with the largest
    peak and load. The first run of a command reads its libraries from disk (1.37 s
    against 1.06 s for the third, 2026-12-02): it is the disk's time, not the start's."""
    timed(command)
    runs = [timed(command) for _ in range(repeats)]
    return {"seconds": round(statistics.median(r["seconds"] for r in runs), 3),
            "all_seconds": [round(r["seconds"], 3) for r in runs],
            "peak_mib": round(max(r["peak_mib"] for r in runs)), "load": round(max(r["load"] for r in runs), 2)}


def cpu(cpuinfo: Path = Path("/proc/cpuinfo")) -> dict:
    """The CPU's name and instruction sets that change the figures: int8 weights run on
    VNNI's dot products where it has them, and are saturation-safe without (docs/export.md)."""
    name, flags = platform.processor(), set()
    try:
        for line in cpuinfo.read_text(encoding="utf-8").splitlines():
            key, _, value = (part.strip() for part in line.partition(":"))
            if key == "model name":
                name = value
            elif key == "flags":
                flags = set(value.split())
                break
    except OSError:  # not Linux: the name only
        pass
    return {"name": name, "avx512": "avx512f" in flags, "vnni": bool(flags & {"avx512_vnni", "avx_vnni"})}


def write_comments(path: Path, rows: int) -> None:
    """``rows`` NSMC training reviews (repeated when there are fewer), with an id column."""
    lines = resolve_data_path("nsmc:train").read_text(encoding="utf-8").splitlines()[1:]
    reviews = [line.split("\t")[1] for line in lines]
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write("id\tdocument\n")
        for i in range(rows):
            handle.write(f"{i}\t{reviews[i % len(reviews)]}\n")


def bench_model(source: Path, folder: Path, comments: Path, memory_comments: Path | None, repeats: int) -> dict:
    run = folder / source.name
    shutil.copytree(source, run)
    result = {"model": str(source), "exports": {}, "cold_start": {}, "throughput": {}, "memory": {}}
    for format in ("onnx", "savedmodel", "litert"):
        measured = timed([sys.executable, "-m", "app.export", "--model", str(run), "--format", format])
        recorded = json.loads((run / "bundle.json").read_text(encoding="utf-8"))["exports"][format]
        size = sum((run / name).stat().st_size for name in recorded)
        result["exports"][format] = {"seconds": round(measured["seconds"], 1), "mb": round(size / 1e6, 2),
                                     "load": round(measured["load"], 2)}
    result["model_keras_mb"] = round((run / "model.keras").stat().st_size / 1e6, 2)
    predict = [sys.executable, "predict.py", "--model", str(run)]
    rows = sum(1 for _ in open(comments, encoding="utf-8")) - 1
    memory_rows = sum(1 for _ in open(memory_comments, encoding="utf-8")) - 1 if memory_comments else 0
    quantizable = read_config(run).model.cell in QUANTIZABLE_CELLS
    scorings = [("onnx", "onnx"), ("keras", "keras")] + ([(INT8, "onnx")] if quantizable else [])
    for name, runtime in scorings:  # (the row's name, predict.py's --runtime)
        if name == INT8:  # last: this export replaces the float model.onnx
            measured = timed([sys.executable, "-m", "app.export", "--model", str(run), "--format", "onnx", "--quantize", "int8"])
            result["exports"][INT8] = {"seconds": round(measured["seconds"], 1),
                                       "mb": round((run / "export" / "model.onnx").stat().st_size / 1e6, 2),
                                       "load": round(measured["load"], 2)}
        result["cold_start"][name] = median_of(repeats, [*predict, "--runtime", runtime, "--text", COMMENT])
        measured = median_of(repeats, [*predict, "--runtime", runtime, str(comments), "-o", str(folder / "predictions.csv")])
        result["throughput"][name] = {**measured, "rows": rows, "comments_per_second": round(rows / measured["seconds"])}
        if memory_comments is not None and name != INT8:
            measured = timed([*predict, "--runtime", runtime, str(memory_comments), "-o", str(folder / "predictions.csv")])
            result["memory"][name] = {"rows": memory_rows, "seconds": round(measured["seconds"], 1),
                                      "comments_per_second": round(memory_rows / measured["seconds"]),
                                      "peak_mib": round(measured["peak_mib"]), "load": round(measured["load"], 2)}
        print(json.dumps({"model": source.name, "runtime": name, "cold_start": result["cold_start"][name]["seconds"],
                          "throughput": result["throughput"][name]["comments_per_second"]}), flush=True)
    shutil.rmtree(run)
    return result


def table(results: dict) -> str:
    """The Markdown table docs/export.md shows."""
    lines = ["| model | runtime | cold start s | comments/s (100K) | peak MiB (1M rows) |", "|---|---|---|---|---|"]
    for model in results["models"]:
        for runtime in model["throughput"]:
            memory = model["memory"].get(runtime, {})
            lines.append(f"| {Path(model['model']).name} | {runtime} | {model['cold_start'][runtime]['seconds']:.2f} | "
                         f"{model['throughput'][runtime]['comments_per_second']:,} | {memory.get('peak_mib', '-')} |")
    lines += ["", "| model | format | export s | size MB |", "|---|---|---|---|"]
    for model in results["models"]:
        lines.append(f"| {Path(model['model']).name} | model.keras | - | {model['model_keras_mb']} |")
        for format, export in model["exports"].items():
            lines.append(f"| {Path(model['model']).name} | {format} | {export['seconds']} | {export['mb']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", required=True, help="a saved run (repeatable)")
    parser.add_argument("--rows", type=int, default=100_000, help="comments in the throughput file")
    parser.add_argument("--memory-rows", type=int, default=1_000_000,
                        help="comments in the first model's peak-memory file (0: skip)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per cold start and throughput figure (median)")
    parser.add_argument("--output", default=str(ROOT / "bench" / "export.json"))
    args = parser.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    with tempfile.TemporaryDirectory(prefix="kosent-export-bench-") as folder:
        folder = Path(folder)
        comments = folder / "comments.tsv"
        write_comments(comments, args.rows)
        memory_comments = folder / "comments_memory.tsv" if args.memory_rows else None
        if memory_comments:
            write_comments(memory_comments, args.memory_rows)
        tensorflow = median_of(args.repeats, [sys.executable, "-c", "import tensorflow"])
        models = [bench_model(Path(model), folder, comments, memory_comments if i == 0 else None, args.repeats)
                  for i, model in enumerate(args.model)]
    results = {"started": started, "command": "python -m bench.export " + " ".join(sys.argv[1:]),
               "cores": os.cpu_count(), "cpu": cpu(), "import_tensorflow": tensorflow, "models": models}
    write_json_atomically(args.output, results)
    print(table(results))
    print(f"\n`python -c \"import tensorflow\"`: {tensorflow['seconds']:.2f} s (median of {args.repeats}); wrote {args.output}")


if __name__ == "__main__":
    main()
