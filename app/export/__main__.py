"""``python -m app.export --model models/<run> --format onnx``: the command is app/cli/export.py."""

import sys

from app.cli.export import main

if __name__ == "__main__":
    sys.exit(main())
