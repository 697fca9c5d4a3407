"""Classify comment files on Apache Spark (spark-submit spark_predict.py ...): see app/cli/spark_predict.py, or --help."""

if __name__ == "__main__":  # Spark's Python workers import this project's modules, never this file
    import sys

    from app.cli.spark_predict import main

    sys.exit(main())
