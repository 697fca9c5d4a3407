"""Classify Korean comments with a model saved by train.py: see app/cli/predict.py, or --help."""

if __name__ == "__main__":  # worker processes re-import this file: they must not start anything
    import gc
    import sys

    from app.cli.predict import main

    status = main()
    # At exit Python garbage-collects every object TensorFlow and Keras made: over a
    # second, a fifth of a one-comment run. Outputs are closed by now; skip that work.
    gc.freeze()
    sys.exit(status)
