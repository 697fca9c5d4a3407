"""Where the app keeps and finds files, in one place, each overridable by an environment variable.

    KOSENT_HOME       the project directory: configs, data/ and models/ are relative to it
                      (default: the checkout this package lives in)
    KOSENT_CACHE_DIR  the token cache (default: <home>/.cache/tokens)
    KOSENT_NSMC_DIR   a folder holding the NSMC files, looked in before the defaults
"""

import os
from pathlib import Path


def project_root() -> Path:
    """The directory relative paths in configs (``data/sample_binary.tsv``) are read from."""
    return Path(os.environ.get("KOSENT_HOME") or Path(__file__).resolve().parent.parent)


def cache_dir() -> Path:
    """The on-disk token cache (see app.text.tokenizer)."""
    return Path(os.environ.get("KOSENT_CACHE_DIR") or project_root() / ".cache" / "tokens")


def nsmc_dirs() -> list[Path]:
    """Where NSMC files are looked for, in order: $KOSENT_NSMC_DIR, the project's
    data/nsmc, then ../shared/data/nsmc beside the project."""
    root = project_root()
    dirs = [root / "data" / "nsmc", root.parent / "shared" / "data" / "nsmc"]
    if os.environ.get("KOSENT_NSMC_DIR"):
        dirs.insert(0, Path(os.environ["KOSENT_NSMC_DIR"]))
    return dirs
