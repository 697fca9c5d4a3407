"""Classify comment files on Apache Spark with a model saved by train.py.

    spark-submit spark_predict.py --model models/<run> comments.parquet --text-column document -o predictions.parquet
    python spark_predict.py --model models/<run> data/sample_binary.tsv -o predictions.parquet   # local[2]

Every input row is written once, with its own columns (and an id column where it has
none: Spark keeps no row order) plus predict.py's: label, confidence, p_<class> and
status (ok, empty, no_known_tokens), with the same probabilities. Inputs: .parquet,
.csv, .tsv, .jsonl (files, folders or globs); the output (.parquet or .csv) is a
folder of part files, published only when it holds every input row. The run travels
to the executors as an archive (SparkFiles), checked there against its SHA-256.
See docs/spark.md for clusters.
"""

import argparse
import sys

from app.cli.common import add_verbose_flag, integer_at_least, prepare_process, run_command, stop_on_sigterm

FLAGS = {  # the library's parameter -> this tool's flag, added to its errors
    "format": "--format parquet, csv, tsv or jsonl",
    "text_column": "--text-column",
    "runtime": "--runtime keras",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The parsed command line; argparse exits on a usage error."""
    parser = argparse.ArgumentParser(prog="spark_predict.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True,
                        help="a run directory (models/<run>) or an archive of one (.zip, .tar.gz; local, hdfs://, s3a://...)")
    parser.add_argument("inputs", nargs="+", help="comment files, folders or globs (one format)")
    parser.add_argument("-o", "--output", required=True, help="where the predictions go: a .parquet or .csv folder that does not exist")
    parser.add_argument("--format", choices=["parquet", "csv", "tsv", "jsonl"], help="input format (default: from the extension)")
    parser.add_argument("--text-column", help="the column holding the comments (default: the run's, e.g. document)")
    parser.add_argument("--id-column", default="id", help="the row id: kept where the input has it, else added (default: %(default)s)")
    parser.add_argument("--runtime", choices=["keras", "onnx"],
                        help="score with the run's ONNX export in onnxruntime, no TensorFlow on the workers (onnx: the default "
                        "where the run has one; python -m app.export --format onnx writes it) or with model.keras (keras)")
    parser.add_argument("--batch-size", type=integer_at_least(1),
                        help="comments per model call (default: predict.py's, 1024 with --runtime keras, 128 with onnx)")
    parser.add_argument("--rows-per-batch", type=integer_at_least(1), default=10_000,
                        help="rows Spark hands a Python worker at a time (default: %(default)s)")
    parser.add_argument("--threads", type=integer_at_least(1), default=1,
                        help="threads of a worker's model calls; give each task as many cores (spark.task.cpus) (default: %(default)s)")
    parser.add_argument("--master", help="Spark master (default: spark-submit's --master, else %(prog)s runs on local[2])")
    add_verbose_flag(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Score the inputs on Spark and return the exit status."""
    args = parse_args(argv)
    prepare_process(args.verbose)
    stop_on_sigterm()
    return run_command(lambda: spark_predict(args), FLAGS.get)


def spark_predict(args: argparse.Namespace) -> int:
    """Start Spark, score, print what was written; 0, or 1 when Spark failed or rows were lost."""
    from app.spark.job import RowsLost, score_files
    from app.spark.session import SparkNotStarted, start_session

    try:
        spark = start_session(args.master)
    except SparkNotStarted as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    master = spark.sparkContext.master
    try:
        summary = score_files(spark, args.model, args.inputs, args.output, format=args.format, text_column=args.text_column,
                              id_column=args.id_column, runtime=args.runtime, batch_size=args.batch_size,
                              rows_per_batch=args.rows_per_batch, threads=args.threads)
    except RowsLost as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        spark.stop()
    counts = ", ".join(f"{status} {count:,}" for status, count in sorted(summary.status_counts.items()))
    print(f"predicted {summary.rows:,} comments in {summary.seconds:.1f}s ({summary.rows / max(summary.seconds, 1e-9):,.0f}/s) "
          f"on {master} with {summary.runtime}; "
          f"wrote {summary.output} ({summary.output_format}); rows checked: {summary.rows:,} in, {summary.rows:,} out ({counts})",
          file=sys.stderr)
    return 0
