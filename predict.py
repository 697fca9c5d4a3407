"""Classify Korean comments with a model saved by train.py.

    python predict.py --model models/<run> comments.tsv -o predictions.csv
    python predict.py --model models/<run> --text "배우들 연기가 정말 좋았어요" --text "시간 아깝다"
    cat comments.txt | python predict.py --model models/<run>
    python predict.py --model models/<run> test.tsv --evaluate
    python predict.py --model models/<run> --explain --text "사무직은 초근도 못하고 야근수당도 없는데 그런데 생산직은 좋겠죠"
    python predict.py --compare models/<a> models/<b> models/<c> --evaluate test.tsv

Every input row is written, in order, with its own columns plus: label, confidence,
p_<class> for each class, and status (ok, empty, no_known_tokens; rows that are not
ok get no label). Output format follows the -o extension (.csv, .tsv, .jsonl); CSV
on standard output when there is no -o.
"""

import argparse
import gc
import sys
import time
from pathlib import Path

from app.errors import DataError, integer_at_least, run_command  # standard library only: cheap to import

OUTPUT_FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="*", help="comment files (.tsv .csv .jsonl .txt); standard input when none")
    parser.add_argument("--model", help="a run directory saved by train.py")
    parser.add_argument("--compare", nargs="+", metavar="MODEL",
                        help="score these run directories on one labeled file (with --evaluate) and compare them")
    parser.add_argument("--report-dir", help="with --compare: where the comparison is written "
                        "(default: models/comparison-<time>)")
    parser.add_argument("--text", action="append", default=[], help="a comment to classify (repeatable)")
    parser.add_argument("-o", "--output", help="output file; its extension picks csv, tsv or jsonl")
    parser.add_argument("--format", choices=["tsv", "csv", "jsonl", "txt"], help="input format (default: by extension; txt for stdin)")
    parser.add_argument("--encoding", help="input encoding (default: detect UTF-8, UTF-8/16 BOM, CP949)")
    parser.add_argument("--encoding-errors", choices=["strict", "replace"], default="strict",
                        help="undecodable bytes: stop with their line (strict, default) or replace them with U+FFFD and count them")
    parser.add_argument("--text-column", help="column holding the comment (default: the model's, e.g. document)")
    parser.add_argument("--label-column", help="column holding true labels, for --evaluate (default: the model's)")
    parser.add_argument("--evaluate", action="store_true", help="compare with the input's label column and print metrics")
    parser.add_argument("--batch-size", type=integer_at_least(1), default=1024, help="comments per model call (default: %(default)s)")
    parser.add_argument("--workers", type=integer_at_least(0), default=0, help="tokenizer processes (default: every core)")
    parser.add_argument("--explain", action="store_true",
                        help="instead of predictions: each comment's word attributions and gate trace, in the terminal and as files")
    parser.add_argument("--explain-limit", type=integer_at_least(1), default=20, help="with --explain: comments explained at most (default: %(default)s)")
    parser.add_argument("--explain-dir", help="with --explain: where the heatmaps and the HTML page go (default: explanations/<run>)")
    args = parser.parse_args(argv)
    if bool(args.model) == bool(args.compare):
        parser.error("give --model (predict) or --compare (compare saved models), one of them")
    if args.compare and (not args.evaluate or len(args.inputs) != 1 or args.text):
        parser.error("--compare needs --evaluate and one labeled file, e.g. --compare A B --evaluate test.tsv")
    if args.inputs and args.text:
        parser.error("give comment files or --text, not both")
    if args.explain and (args.output or args.evaluate or args.compare):
        parser.error("--explain prints its views and writes them to --explain-dir; leave out -o, --evaluate and --compare")
    return args


def main(argv=None):
    args = parse_args(argv)
    return run_command(lambda: compare(args) if args.compare else predict(args))


def predict(args):
    # Imported here, not at the top: tokenizer worker processes re-import this
    # file and must not pay for loading TensorFlow.
    import numpy as np
    import pandas as pd

    from app.bundle import load_bundle, read_config
    from app.data import iter_chunks, open_source, valid_text

    # Cheap checks first, so a typo fails before TensorFlow loads
    output_format = _output_format(args.output)
    _check_output_path(args.output, args.inputs)
    model_config = read_config(args.model) if Path(args.model).is_dir() else None
    text_column = args.text_column or (model_config.data.text_column if model_config else "document")
    if args.inputs:
        sources = [open_source(path, format=args.format, encoding=args.encoding, errors=args.encoding_errors,
                               text_column=text_column) for path in args.inputs]
    elif not args.text:
        if sys.stdin.isatty():
            print("reading comments from standard input, one a line (Ctrl-D to end)", file=sys.stderr)
        sources = [open_source(stream=sys.stdin.buffer, format=args.format, encoding=args.encoding, errors=args.encoding_errors)]
    bundle = load_bundle(args.model, workers=args.workers)
    from app.inference import predict_chunks, with_predictions  # TensorFlow is loaded by now

    label_column = args.label_column or bundle.config.data.label_column
    if args.text:
        chunks = [pd.DataFrame({text_column: [valid_text(text) for text in args.text]}, dtype=object)]
    else:
        chunks = (chunk for source in sources for chunk in iter_chunks(source, text_column))
    if args.explain:
        from app.attribution import explain_comments

        texts = [text for chunk in chunks for text in chunk[text_column]]
        explain_comments(bundle, texts, args.explain_dir or Path("explanations", bundle.path.resolve().name), args.explain_limit)
        return 0

    true_labels, predicted, started, rows, last_report = [], [], time.perf_counter(), 0, time.perf_counter()
    with OutputWriter(args.output, output_format) as writer:
        for chunk, probabilities, status in predict_chunks(bundle, chunks, text_column, args.batch_size):
            writer.write(with_predictions(chunk, bundle, probabilities, status))
            if args.evaluate:
                if label_column not in chunk.columns:
                    raise DataError(f"--evaluate needs a label column {label_column!r}; the input has: {', '.join(chunk.columns)}")
                true_labels.append(bundle.labels.encode(chunk[label_column]))
                predicted.append(probabilities)  # NaN rows: no prediction
            rows += len(chunk)
            if time.perf_counter() - last_report > 5:
                last_report = time.perf_counter()
                print(f"  predicted {rows:,} comments ({rows / (last_report - started):,.0f}/s)", file=sys.stderr, flush=True)
    bundle.tokenizer.close()
    seconds = time.perf_counter() - started
    where = f"; wrote {args.output}" if args.output else ""
    print(f"predicted {rows:,} comments in {seconds:.1f}s ({rows / max(seconds, 1e-9):,.0f}/s){where}", file=sys.stderr)
    if args.evaluate:
        _report_evaluation(np.concatenate(true_labels), np.concatenate(predicted), bundle)
    return 0


def compare(args):
    """Score saved models on one labeled file, each with its own tokenizer, and compare them."""
    import dataclasses

    from app.bundle import check_run_name, make_staging, publish, read_config
    from app.compare import check_same_labels, compare_runs, format_text, model_groups
    from app.data import load_labeled

    # Cheap checks first: every model readable, the same label set, the file labeled
    configs = [read_config(path) for path in args.compare]
    labels = check_same_labels(args.compare)
    report_dir = Path(args.report_dir or f"models/comparison-{time.strftime('%Y%m%d-%H%M%S')}")
    check_run_name(report_dir.name)
    data = configs[0].data
    data = dataclasses.replace(data, text_column=args.text_column or data.text_column, format=args.format,
                               label_column=args.label_column or data.label_column, encoding=args.encoding,
                               encoding_errors=args.encoding_errors)
    frame, dropped, source = load_labeled(args.inputs[0], data)
    y_true = labels.encode(frame[data.label_column])
    if (y_true < 0).any():
        print(f"{source}: {int((y_true < 0).sum()):,} rows have a label the models do not know "
              f"(they know {', '.join(labels.values)}); not scored", file=sys.stderr)
    texts = [text for text, known in zip(frame[data.text_column], y_true >= 0) if known]
    print(f"{source}: scoring {len(texts):,} labeled comments (dropped {sum(dropped.values()):,} without text or label)",
          file=sys.stderr)

    staging = make_staging(report_dir.parent, report_dir.name)
    try:
        runs = list(zip(model_groups(args.compare), map(Path, args.compare)))
        summary = compare_runs(runs, texts, y_true[y_true >= 0], staging, "python predict.py " + " ".join(sys.argv[1:]))
        final = publish(staging, report_dir.parent, report_dir.name)
    except BaseException:  # nothing half-written stays behind
        import shutil

        shutil.rmtree(staging, ignore_errors=True)
        raise
    print(format_text(summary))
    print(f"\nsaved {final}: comparison.md, comparison.csv, comparison.json, report.html")
    return 0


def _report_evaluation(y_true, probabilities, bundle):
    """Metrics over rows that have both a known label and a prediction."""
    import numpy as np

    from app.evaluate import classification_metrics, format_metrics

    has_prediction = ~np.isnan(probabilities).any(axis=1)
    unknown, unpredicted = int((y_true == -1).sum()), int(((y_true >= 0) & ~has_prediction).sum())
    if unknown:
        print(f"evaluate: {unknown:,} rows have a missing label or one the model does not know "
              f"(it knows {', '.join(bundle.labels.values)}); not scored", file=sys.stderr)
    if unpredicted:
        print(f"evaluate: {unpredicted:,} rows have no prediction (status empty or no_known_tokens); not scored", file=sys.stderr)
    scored = (y_true >= 0) & has_prediction
    if not scored.any():
        print("evaluate: no rows to score", file=sys.stderr)
        return
    names = bundle.labels.names
    print(format_metrics(classification_metrics(y_true[scored], probabilities[scored], names), names), file=sys.stderr)


def _output_format(output):
    if output is None:
        return "csv"
    suffix = Path(output).suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise DataError(f"{output}: output extension must be one of {', '.join(OUTPUT_FORMATS)}")
    return OUTPUT_FORMATS[suffix]


def _check_output_path(output, inputs):
    if output and any(Path(output).resolve() == Path(i).resolve() for i in inputs):
        raise DataError(f"{output}: output would overwrite an input file; choose another -o")


class OutputWriter:
    """Streams result frames to a file (written to a temporary name, renamed at the end) or stdout."""

    def __init__(self, path, format):
        self.path, self.format, self.columns = (Path(path) if path else None), format, None

    def __enter__(self):
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.partial = self.path.with_name(f".{self.path.name}.partial")
            self.handle = open(self.partial, "w", encoding="utf-8", newline="")
        else:
            self.handle = sys.stdout
        return self

    def write(self, frame):
        if self.format == "jsonl":
            if len(frame):  # pandas ends each record, the last included, with a newline
                frame.to_json(self.handle, orient="records", lines=True, force_ascii=False)
        else:  # one header for the whole file: every part must have its columns
            if self.columns is not None and list(frame.columns) != self.columns:
                raise DataError(f"inputs have different columns ({', '.join(map(str, frame.columns))} after "
                                f"{', '.join(map(str, self.columns))}); predict them separately or write .jsonl")
            # CRLF line ends (RFC 4180): pandas then quotes a lone "\r" inside a comment too
            frame.to_csv(self.handle, sep="\t" if self.format == "tsv" else ",", index=False,
                         header=self.columns is None, lineterminator="\r\n")
            self.columns = list(frame.columns)
        self.handle.flush()

    def __exit__(self, kind, error, trace):
        if self.path:
            self.handle.close()
            if kind is None:
                self.partial.replace(self.path)
            else:
                self.partial.unlink(missing_ok=True)
        return False


if __name__ == "__main__":
    status = main()
    # At exit Python garbage-collects every object TensorFlow and Keras made: over a
    # second, a fifth of a one-comment run. Outputs are closed by now; skip that work.
    gc.freeze()
    sys.exit(status)
