"""Load test of serve.py: a real uvicorn on 127.0.0.1, asyncio httpx2 clients, bounded
in time and requests, stopping by itself (issue 21).

    python bench/serve.py --model models/<run>                  # 30 s per scenario, batching on and off
    python bench/serve.py --model models/<run> --duration 5     # a quicker look

For each mode (micro-batching on: serve.py's defaults; on with --batch-wait-ms 5; off:
--max-batch 1) it starts
``python serve.py --model M --port P`` in a child process, waits for /readyz, warms the
model up, then runs each scenario for ``--duration`` seconds (or ``--max-requests``,
whichever comes first):

  1, 8 and 32 concurrent clients, each sending one-comment requests back to back;
  8 clients sending 100-comment requests.

It reports throughput (comments/s), p50/p95/p99 latency, errors (any status but 200,
or a transport error) and the server's resident memory after warm-up and at the end,
then stops the server with SIGTERM and checks that it exits 0. The clients run on the
same machine as the server and share its cores; the load average before each mode is
recorded too. First it times Classifier.predict alone at the scenarios' batch sizes: the
ceiling of the service on this machine. Writes bench/serve.json and prints a Markdown table.
"""

import argparse
import asyncio
import json
import os
import platform
import random
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx2

from app.files import write_json_atomically

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = [(1, 1), (8, 1), (32, 1), (8, 100)]  # (concurrent clients, comments per request)
MODES = {  # serve.py flags of each micro-batching mode
    "on": [],  # the defaults: gather what queued while the model was busy, up to --max-batch
    "on, 5 ms wait": ["--batch-wait-ms", "5"],  # and wait up to 5 ms for more after the first request
    "off": ["--max-batch", "1"],  # one model call per request
}
TARGETS = "one client: p50 <= 15 ms, p99 <= 40 ms; 32 clients: >= 2,000 comments/s, 0 errors, p99 <= 250 ms; " \
          "100-comment requests: >= 5,000 comments/s; server memory growth < 50 MB"


def read_comments(spec: str, limit: int) -> list[str]:
    """Up to ``limit`` non-empty comments of a comment file (an NSMC name or a path), as predict.py reads them."""
    from app.data.readers import iter_chunks, open_source, resolve_data_path

    comments = []
    for chunk in iter_chunks(open_source(resolve_data_path(spec)), "document"):
        comments += [text for text in chunk["document"] if text.strip()]
        if len(comments) >= limit:
            break
    return comments[:limit]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """The process's user + system CPU time so far, from /proc (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def resident_mib(pid: int) -> float:
    """The process's resident memory now, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


async def run_scenario(base: str, comments: list[str], clients: int, per_request: int, duration: float,
                       max_requests: int) -> dict:
    """``clients`` loops sending ``per_request`` comments a request for ``duration`` seconds
    (or until ``max_requests`` are sent); their latencies and errors."""
    latencies, errors, sent = [], 0, 0
    generator = random.Random(clients * 1000 + per_request)
    limits = httpx2.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx2.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        started = time.perf_counter()
        end = started + duration

        async def one_client():
            nonlocal errors, sent
            while time.perf_counter() < end and sent < max_requests:
                sent += 1
                body = {"texts": generator.sample(comments, per_request)}
                before = time.perf_counter()
                try:
                    response = await client.post("/v1/predict", json=body)
                    ok = response.status_code == 200 and len(response.json()["predictions"]) == per_request
                except httpx2.TransportError:
                    ok = False
                latencies.append(time.perf_counter() - before)
                errors += not ok

        await asyncio.gather(*(one_client() for _ in range(clients)))
        seconds = time.perf_counter() - started
    ordered = sorted(latencies)

    def percentile(p):
        return round(1000 * ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))], 1)

    answered = len(latencies) - errors
    return {"clients": clients, "comments_per_request": per_request, "seconds": round(seconds, 1),
            "requests": len(latencies), "errors": errors, "requests_per_s": round(answered / seconds, 1),
            "comments_per_s": round(answered * per_request / seconds), "p50_ms": percentile(50),
            "p95_ms": percentile(95), "p99_ms": percentile(99), "mean_ms": round(1000 * statistics.fmean(ordered), 1)}


def start_server(model: str, port: int, flags: list[str]) -> subprocess.Popen:
    command = [sys.executable, str(ROOT / "serve.py"), "--model", model, "--port", str(port), *flags]
    server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while True:
        if server.poll() is not None:
            raise SystemExit(f"serve.py exited with {server.returncode}:\n{server.stdout.read()[-2000:]}")
        try:
            if httpx2.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200:
                return server
        except httpx2.TransportError:
            pass
        if time.monotonic() > deadline:
            server.kill()
            raise SystemExit("serve.py did not get ready within 120 s")
        time.sleep(0.2)


def measure_mode(model: str, mode: str, comments: list[str], duration: float, max_requests: int,
                 extra_flags: list[str]) -> dict:
    """Start serve.py in ``mode``, run every scenario against it, stop it with SIGTERM."""
    port, load_before, flags = free_port(), os.getloadavg(), [*extra_flags, *MODES[mode]]
    server = start_server(model, port, flags)
    base = f"http://127.0.0.1:{port}"
    try:
        asyncio.run(run_scenario(base, comments, 8, 1, min(duration, 3), max_requests))  # warm-up: Keras traces
        asyncio.run(run_scenario(base, comments, 8, 100, min(duration, 3), max_requests))
        memory_start = resident_mib(server.pid)
        scenarios = []
        for clients, per_request in SCENARIOS:
            server_before, client_before = cpu_seconds(server.pid), cpu_seconds(os.getpid())
            scenario = asyncio.run(run_scenario(base, comments, clients, per_request, duration, max_requests))
            # CPU per request: where the 2 cores go (the clients run here, on the same cores)
            for side, before, pid in (("server", server_before, server.pid), ("client", client_before, os.getpid())):
                scenario[f"{side}_cpu_ms_per_request"] = round(1000 * (cpu_seconds(pid) - before) / scenario["requests"], 2)
            scenarios.append(scenario)
            print(f"  batching {mode}: {json.dumps(scenarios[-1])}", file=sys.stderr, flush=True)
        memory_end = resident_mib(server.pid)
        batches = _batch_sizes(httpx2.get(f"{base}/metrics").text)
    finally:
        server.send_signal(signal.SIGTERM)
        exit_status = server.wait(60)
    return {"batching": mode, "serve_flags": flags, "load_average_before": [round(x, 2) for x in load_before],
            "memory_start_mib": round(memory_start, 1), "memory_end_mib": round(memory_end, 1),
            "memory_growth_mib": round(memory_end - memory_start, 1), "mean_batch_comments": batches,
            "exit_status_after_sigterm": exit_status, "scenarios": scenarios}


def _batch_sizes(metrics: str) -> float | None:
    """The mean comments per model call, from the server's /metrics."""
    values = dict(line.rsplit(" ", 1) for line in metrics.splitlines() if line.startswith("kosent_batch_comments_"))
    count = float(values.get("kosent_batch_comments_count", 0))
    return round(float(values["kosent_batch_comments_sum"]) / count, 1) if count else None


def model_alone(model: str, comments: list[str], seconds: float) -> dict:
    """Comments/s of Classifier.predict itself, in this process, at the batch sizes the
    scenarios make: the ceiling the service cannot pass on this machine."""
    from app.cli.common import quiet_tensorflow
    from app.inference.classifier import Classifier

    quiet_tensorflow(False)
    speeds = {}
    with Classifier.load(model, workers=1) as classifier:  # one process, as serve.py tokenizes
        classifier.predict(comments[:256])
        for size in (1, 8, 32, 100, 256):
            started, done = time.perf_counter(), 0
            while time.perf_counter() - started < seconds:
                start = done % (len(comments) - size)
                classifier.predict(comments[start:start + size])
                done += size
            speeds[str(size)] = round(done / (time.perf_counter() - started))
    return speeds


def table(results: dict) -> str:
    """The Markdown table of every mode and scenario."""
    lines = ["| batching | clients | comments/request | comments/s | p50 ms | p95 ms | p99 ms | errors | requests "
             "| CPU ms/request server, client |", "|---|---|---|---|---|---|---|---|---|---|"]
    for mode in results["modes"]:
        for s in mode["scenarios"]:
            lines.append(f"| {mode['batching']} | {s['clients']} | {s['comments_per_request']} | {s['comments_per_s']:,} | "
                         f"{s['p50_ms']} | {s['p95_ms']} | {s['p99_ms']} | {s['errors']} | {s['requests']:,} | "
                         f"{s['server_cpu_ms_per_request']}, {s['client_cpu_ms_per_request']} |")
    memory = "; ".join(f"batching {m['batching']}: {m['memory_start_mib']:,} -> {m['memory_end_mib']:,} MiB "
                       f"(mean {m['mean_batch_comments']} comments per model call)" for m in results["modes"])
    alone = ", ".join(f"{speed:,} at {size}" for size, speed in results["model_alone_comments_per_s"].items())
    ceiling = f"\n\nClassifier.predict alone, comments/s at so many comments a call: {alone}." if alone else ""
    return "\n".join(lines) + f"\n\nServer memory after warm-up -> at the end: {memory}.{ceiling}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="a run directory saved by train.py")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per scenario (default: %(default)s)")
    parser.add_argument("--max-requests", type=int, default=200_000, help="requests per scenario at most (default: %(default)s)")
    parser.add_argument("--comments", default="nsmc:train", help="where the comments sent come from (default: %(default)s)")
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES), help="micro-batching on, off or both")
    parser.add_argument("--ceiling-seconds", type=float, default=5.0,
                        help="seconds Classifier.predict alone is timed at each batch size; 0 skips it (default: %(default)s)")
    parser.add_argument("--serve-flags", default="", help="more serve.py flags for both modes, e.g. \"--batch-wait-ms 0\"")
    parser.add_argument("--output", default=str(ROOT / "bench" / "serve.json"), help="default: bench/serve.json")
    args = parser.parse_args()
    comments = read_comments(args.comments, 10_000)
    command = "python bench/serve.py " + " ".join(sys.argv[1:])
    results = {"command": command, "model": Path(args.model).name, "comments_from": args.comments,
               "measured": time.strftime("%Y-%m-%d %H:%M %Z"), "cpus": os.cpu_count(), "machine": platform.platform(),
               "duration_s": args.duration, "targets": TARGETS,
               "note": "clients and server share this machine's cores; load_average_before shows what else ran",
               "model_alone_comments_per_s": model_alone(args.model, comments, args.ceiling_seconds) if args.ceiling_seconds else {},
               "modes": [measure_mode(args.model, mode, comments, args.duration, args.max_requests, shlex.split(args.serve_flags))
                         for mode in args.modes]}
    write_json_atomically(args.output, results)
    print(table(results))
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
