"""Classify Korean comments with a model saved by train.py.

    python predict.py --model models/<run> comments.tsv -o predictions.csv
    python predict.py --model models/<run> --text "배우들 연기가 정말 좋았어요" --text "시간 아깝다"
    cat comments.txt | python predict.py --model models/<run>
    python predict.py --model models/<run> test.tsv --evaluate
    python predict.py --model models/<run> --explain --text "사무직은 초근도 못하고 야근수당도 없는데 그런데 생산직은 좋겠죠"
    python predict.py --compare models/<a> models/<b> models/<c> --evaluate test.tsv

Every input row is written, in order, with its own columns plus: label, confidence,
p_<class> for each class, and status (ok, empty, no_known_tokens; missing_text or
malformed_record for a record that could not be read, unless --strict; rows that
are not ok get no label). Output format follows the -o extension (.csv, .tsv, .jsonl); CSV
on standard output when there is no -o.
"""

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from app.cli.common import (
    add_verbose_flag,
    integer_at_least,
    prepare_process,
    run_command,
    stop_on_sigterm,
    worker_count,
)
from app.errors import DataError

if TYPE_CHECKING:
    from app.data.readers import LabelSet
    from app.inference.classifier import Classifier
    from app.interpret.attribution import Explanation

FLAGS = {  # the library's parameter -> this tool's flag, added to its errors
    "format": "--format tsv, csv, jsonl or txt",
    "encoding": "--encoding, or --encoding-errors replace",
    "text_column": "--text-column",
    "runtime": "--runtime keras",
    "output_encoding": "--output-encoding utf-8, utf-8-sig or cp949",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The parsed and cross-checked command line; argparse exits on a usage error."""
    parser = argparse.ArgumentParser(prog="predict.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="*", help="comment files (.tsv .csv .jsonl .txt); standard input when none")
    parser.add_argument("--model", help="a run directory saved by train.py")
    parser.add_argument("--compare", nargs="+", metavar="MODEL",
                        help="score these run directories on one labeled file (with --evaluate) and compare them")
    parser.add_argument("--report-dir", help="with --compare: where the comparison is written "
                        "(default: models/comparison-<time>)")
    parser.add_argument("--text", action="append", default=[], help="a comment to classify (repeatable)")
    parser.add_argument("-o", "--output", help="output file; its extension picks csv, tsv or jsonl")
    parser.add_argument("--format", choices=["tsv", "csv", "jsonl", "txt"], help="input format (default: by extension; txt for stdin)")
    parser.add_argument("--output-encoding", choices=["utf-8", "utf-8-sig", "cp949"],
                        help="encoding of -o (default: utf-8-sig for .csv and .tsv, which Korean Excel needs; "
                             "utf-8 for .jsonl and standard output)")
    parser.add_argument("--encoding", help="input encoding (default: detect UTF-8, UTF-8/16 BOM, CP949)")
    parser.add_argument("--encoding-errors", choices=["strict", "replace"], default="strict",
                        help="undecodable bytes: stop with their line (strict, default) or replace them with U+FFFD and count them")
    parser.add_argument("--strict", action="store_true",
                        help="stop at the first record that cannot be read (not JSON, no text field, more fields than "
                        "the header), naming its file and line, instead of writing it with a status")
    parser.add_argument("--text-column", help="column holding the comment (default: the model's, e.g. document)")
    parser.add_argument("--label-column", help="column holding true labels, for --evaluate (default: the model's)")
    parser.add_argument("--evaluate", action="store_true", help="compare with the input's label column and print metrics")
    parser.add_argument("--batch-size", type=integer_at_least(1),
                        help="comments per model call (default: 1024 with --runtime keras, 128 with onnx)")
    parser.add_argument("--workers", type=worker_count, default=0, help="tokenizer processes (default: every core)")
    parser.add_argument("--runtime", choices=["keras", "onnx"], default="keras",
                        help="score with model.keras (keras, default) or with the run's ONNX export in onnxruntime, "
                        "without TensorFlow (onnx; python -m app.export --format onnx writes it)")
    parser.add_argument("--explain", action="store_true",
                        help="instead of predictions: each comment's word attributions and gate trace, in the terminal and as files")
    parser.add_argument("--explain-limit", type=integer_at_least(1), default=20, help="with --explain: comments explained at most (default: %(default)s)")
    parser.add_argument("--explain-dir", help="with --explain: where the heatmaps and the HTML page go (default: explanations/<run>)")
    add_verbose_flag(parser)
    args = parser.parse_args(argv)
    if bool(args.model) == bool(args.compare):
        parser.error("give --model (predict) or --compare (compare saved models), one of them")
    if args.compare and (not args.evaluate or len(args.inputs) != 1 or args.text):
        parser.error("--compare needs --evaluate and one labeled file, e.g. --compare A B --evaluate test.tsv")
    if args.inputs and args.text:
        parser.error("give comment files or --text, not both")
    if args.explain and (args.output or args.evaluate or args.compare):
        parser.error("--explain prints its views and writes them to --explain-dir; leave out -o, --evaluate and --compare")
    if args.explain and args.runtime != "keras":
        parser.error("--explain needs --runtime keras: word attributions and the gate trace run on the Keras model")
    return args


def main(argv: list[str] | None = None) -> int:
    """Predict, explain or compare as the flags say, and return the exit status."""
    args = parse_args(argv)
    prepare_process(args.verbose)
    stop_on_sigterm()
    return run_command(lambda: compare(args) if args.compare else predict(args), FLAGS.get)


def predict(args: argparse.Namespace) -> int:
    """Classify the input comments (or explain them with --explain) and write the predictions; returns 0."""
    # Imported here, not at the top: tokenizer worker processes re-import predict.py
    # and must not pay for loading TensorFlow.
    import numpy as np
    import pandas as pd

    from app.artifacts.run import read_config
    from app.data.readers import iter_chunks, open_source, valid_text
    from app.data.writers import OutputWriter, check_output_path, output_format

    # Cheap checks first, so a typo fails before TensorFlow loads
    writer_format = output_format(args.output)
    check_output_path(args.output, args.inputs)
    model_config = read_config(args.model) if Path(args.model).is_dir() else None
    text_column = args.text_column or (model_config.data.text_column if model_config else "document")
    label_column = args.label_column or (model_config.data.label_column if model_config else "label")
    if args.inputs:
        sources = [open_source(path, format=args.format, encoding=args.encoding, errors=args.encoding_errors,
                               text_column=text_column, strict=args.strict) for path in args.inputs]
        # a wrong column fails now, before TensorFlow loads and any row is written (a FIFO can be read only once)
        for source in filter(lambda source: source.rereadable, sources):
            first = next(iter_chunks(source, text_column, chunk_rows=1), None)  # its reader checks the text column
            if args.evaluate and first is not None:
                _require_label_column(source.name, first.columns, label_column)
    elif not args.text:
        if sys.stdin.isatty():
            print("reading comments from standard input, one a line (Ctrl-D to end)", file=sys.stderr)
        sources = [open_source(stream=sys.stdin.buffer, format=args.format, encoding=args.encoding,
                               errors=args.encoding_errors, strict=args.strict)]
    from app.inference.classifier import Classifier, output_columns, with_predictions

    # The output's lock is taken before the model loads: a second predict.py on the same -o fails at once
    with (OutputWriter(args.output, writer_format, args.output_encoding) as writer,
          Classifier.load(args.model, batch_size=args.batch_size, workers=args.workers, runtime=args.runtime) as classifier):
        if classifier.exported is not None and classifier.exported.weights != "float32":
            print(f"scoring with {classifier.exported.path}'s {classifier.exported.weights} weights "
                  "(exported with --quantize): probabilities are close to model.keras's, not equal", file=sys.stderr)
        if args.text:
            chunks = [pd.DataFrame({text_column: [valid_text(text) for text in args.text]}, dtype=object)]
        else:
            chunks = (chunk for source in sources for chunk in iter_chunks(source, text_column))
        if args.explain:
            texts = [text for chunk in chunks for text in chunk[text_column]]
            out_dir = args.explain_dir or Path("explanations", classifier.path.resolve().name)
            explain_comments(classifier, texts, out_dir, args.explain_limit)
            return 0

        true_labels, predicted, started, rows, last_report = [], [], time.perf_counter(), 0, time.perf_counter()
        label_vocabulary = None  # with --evaluate: the label column's, so the two columns compare as they are
        for chunk, probabilities, status in classifier.predict_chunks(chunks, text_column):
            if args.evaluate:
                _require_label_column("the input", chunk.columns, label_column)  # standard input: not checked before
                label_vocabulary = label_vocabulary or classifier.run.labels.vocabulary_of(chunk[label_column])
            shown = classifier.run.labels.values if label_vocabulary == "values" else None
            writer.write(with_predictions(chunk, classifier.labels, probabilities, status, shown))
            input_columns = chunk.columns
            if args.evaluate:
                true_labels.append(classifier.run.labels.encode(chunk[label_column]))
                predicted.append(probabilities)  # NaN rows: no prediction
            rows += len(chunk)
            if time.perf_counter() - last_report > 5:
                last_report = time.perf_counter()
                print(f"  predicted {rows:,} comments ({rows / (last_report - started):,.0f}/s)",
                      file=sys.stderr, flush=True)
    seconds = time.perf_counter() - started
    where = f"; wrote {args.output} ({writer.encoding})" if args.output else ""
    print(f"predicted {rows:,} comment{'' if rows == 1 else 's'} in {seconds:.1f}s ({rows / max(seconds, 1e-9):,.0f}/s){where}", file=sys.stderr)
    if args.evaluate:
        predicted_column = output_columns(input_columns, classifier.labels)[0]
        _say_label_vocabulary(classifier.run.labels, label_column, label_vocabulary, predicted_column)
        _report_evaluation(np.concatenate(true_labels), np.concatenate(predicted), classifier)
    return 0


def _say_label_vocabulary(labels: "LabelSet", label_column: str, vocabulary: str | None, predicted_column: str) -> None:
    """Which words the true and the predicted label columns are written in."""
    pairs = ", ".join(f"{value} = {name}" for value, name in zip(labels.values, labels.names))
    words = "label values" if vocabulary == "values" else "label names"
    if labels.values != labels.names:
        print(f"evaluate: {label_column!r} holds the model's {words}, so {predicted_column!r} is written in them too ({pairs})",
              file=sys.stderr)


def _require_label_column(name: str, columns, label_column: str) -> None:
    """--evaluate compares with a label column: one the input has."""
    if label_column not in columns:
        raise DataError(f"{name}: --evaluate needs a label column {label_column!r}; it has: "
                        f"{', '.join(map(str, columns))} (--label-column)")


def explain_comments(classifier: "Classifier", texts: list[str], out_dir: str | Path, limit: int = 20,
                     stream: TextIO | None = None) -> list["Explanation"]:
    """For each of the first ``limit`` comments: print its token scores and gate table and
    draw its gate heatmap into ``out_dir``; then write one HTML page of them all.
    Returns the Explanations."""
    from app.interpret.attribution import NOT_EXPLAINED, write_explanations

    if not texts:
        raise DataError("--explain: the input has no comments")
    shown = [text if isinstance(text, str) else "" for text in texts[:limit]]
    status, explanations = classifier.explain_many(shown)
    if not explanations:
        raise DataError(f"--explain: no comment to explain ({'; '.join(sorted({NOT_EXPLAINED[s] for s in status}))})")
    out_dir = Path(out_dir)
    page = write_explanations(shown, list(status), explanations, out_dir,
                              f"Word attributions: {classifier.path.name}", stream or sys.stdout)
    if len(texts) > limit:
        print(f"explained the first {limit} of {len(texts):,} comments (raise --explain-limit for more)", file=sys.stderr)
    print(f"wrote the attributions page {page} and the gate heatmaps {out_dir / 'gates-*.png'}", file=sys.stderr)
    return list(explanations.values())


def compare(args: argparse.Namespace) -> int:
    """Score saved models on one labeled file, each with its own tokenizer, and compare them."""
    from app.comparison.compare import compare_saved
    from app.reporting.tables import format_text

    report_dir = args.report_dir or f"models/comparison-{time.strftime('%Y%m%d-%H%M%S')}"
    final, summary = compare_saved(args.compare, args.inputs[0], report_dir, "python predict.py " + " ".join(sys.argv[1:]),
                                   text_column=args.text_column, label_column=args.label_column, format=args.format,
                                   encoding=args.encoding, encoding_errors=args.encoding_errors, runtime=args.runtime)
    print(format_text(summary))
    print(f"\nsaved {final}: comparison.md, comparison.csv, comparison.json, report.html")
    return 0


def _report_evaluation(y_true, probabilities, classifier):
    """Metrics over rows that have both a known label and a prediction."""
    import numpy as np

    from app.evaluation.metrics import classification_metrics, format_metrics

    has_prediction = ~np.isnan(probabilities).any(axis=1)
    unknown, unpredicted = int((y_true == -1).sum()), int(((y_true >= 0) & ~has_prediction).sum())
    if unknown:
        print(f"evaluate: {unknown:,} rows have a missing label or one the model does not know "
              f"(it knows {', '.join(classifier.run.labels.values)}); not scored", file=sys.stderr)
    if unpredicted:
        print(f"evaluate: {unpredicted:,} rows have no prediction (their status says why); not scored", file=sys.stderr)
    scored = (y_true >= 0) & has_prediction
    if not scored.any():
        print("evaluate: no rows to score", file=sys.stderr)
        return
    names = classifier.labels
    print(format_metrics(classification_metrics(y_true[scored], probabilities[scored], names), names), file=sys.stderr)
