"""The ensemble of trained runs: the mean of their class probabilities on the test set.

    python bench/ensemble.py --runs bench/runs/lstm bench/runs/gru ... --test TEST.tsv --output ensemble.json

Each run tokenizes and encodes the test comments its own way (its tokenizer, vocabulary
and length) and scores every row, as train.py scores its test set, so each member's
accuracy here equals the one in its metrics.json (checked). Issue 6 reports the
ensemble apart from the single-model figures. Writes the ensemble's test metrics
(app.evaluate) and each member's accuracy.
"""

import argparse
import json
import sys
import time
from pathlib import Path

from app.files import write_json_atomically

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", nargs="+", type=Path, required=True, help="run directories saved by train.py")
    parser.add_argument("--test", type=Path, required=True, help="the labeled test file the runs were scored on")
    parser.add_argument("--output", type=Path, required=True, help="where the metrics go (JSON)")
    args = parser.parse_args(argv)

    from app.artifacts.run import SavedRun
    from app.config import DataConfig
    from app.data.readers import load_labeled
    from app.evaluation.metrics import classification_metrics, format_metrics
    from app.modeling.network import class_probabilities

    started = time.perf_counter()
    data = DataConfig()
    frame, _, _ = load_labeled(str(args.test), data)
    texts, members, names, total = frame[data.text_column].tolist(), {}, None, 0.0
    for run in args.runs:
        bundle = SavedRun.load(run)
        if names is not None and bundle.labels.names != names:
            raise SystemExit(f"error: {run}: classes {bundle.labels.names} differ from {names}")
        names = bundle.labels.names
        y = bundle.labels.encode(frame[data.label_column])
        _, ids = bundle.encode(texts)
        probabilities = class_probabilities(bundle.model, ids)
        bundle.tokenizer.close()
        accuracy = float((probabilities.argmax(axis=1) == y).mean())
        saved = json.loads((run / "metrics.json").read_text(encoding="utf-8"))["accuracy"]
        if abs(accuracy - saved) > 1e-3:
            raise SystemExit(f"error: {run}: scored {accuracy:.4f} here but {saved:.4f} in its metrics.json")
        members[run.name] = accuracy
        total = total + probabilities
        print(f"{run.name}: accuracy {accuracy:.4f}", flush=True)
    metrics = classification_metrics(y, total / len(args.runs), names)
    print(f"ensemble of {len(members)}: " + format_metrics(metrics, names))
    metrics |= {"members": members, "seconds": round(time.perf_counter() - started, 2)}
    write_json_atomically(args.output, metrics)


if __name__ == "__main__":
    sys.exit(main())
