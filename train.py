"""Train a recurrent sentiment model from a YAML config: see app/cli/train.py, or --help."""

if __name__ == "__main__":  # worker processes re-import this file: they must not start anything
    import sys

    from app.cli.train import main

    sys.exit(main())
