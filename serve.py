"""Serve a model saved by train.py over HTTP (an API and a web page): see app/cli/serve.py, or --help."""

if __name__ == "__main__":  # worker processes re-import this file: they must not start anything
    import sys

    from app.cli.serve import main

    sys.exit(main())
