"""Rewrite docs/config.md from the config schema: ``python -m app.cli.docs``."""

import sys

from app import paths
from app.config.docs import config_reference


def main() -> int:
    """Write docs/config.md under the project and say where; returns 0."""
    path = paths.project_root() / "docs" / "config.md"
    path.write_text(config_reference(), encoding="utf-8")
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
