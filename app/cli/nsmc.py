"""Get the full NSMC corpus, the one the README's NSMC figures were measured on.

    python -m app.cli.nsmc fetch                       # download e9t/nsmc into data/nsmc/
    python -m app.cli.nsmc fetch --from ~/src/nsmc     # from a clone (or .tar.gz) of it, offline
    python -m app.cli.nsmc sample                      # remake data/nsmc-sample from the full corpus

`fetch` writes e9t/nsmc's ratings_train.txt and ratings_test.txt as published, and
derives from its raw crawl the two parts it does not publish: ratings3_sample.txt
(8,000 reviews a class, ratings 1-4 / 5-8 / 9-10) and unlabeled_reviews.txt (every
other review). It downloads the whole repository, raw crawl included (168 MB of JSON
unpacked); nothing else in kosent downloads.
"""

import argparse
import sys

from app.cli.common import configure_logging, integer_at_least, run_command, stop_on_sigterm


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The parsed command line; argparse exits on a usage error."""
    parser = argparse.ArgumentParser(prog="python -m app.cli.nsmc", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    fetch = commands.add_parser("fetch", help="download e9t/nsmc (or read a clone) and derive the other parts")
    fetch.add_argument("--from", dest="source", metavar="PATH",
                       help="a clone of github.com/e9t/nsmc or a .tar.gz of it, instead of downloading")
    fetch.add_argument("--to", dest="dest", default="data/nsmc", help="where the four files go (default: %(default)s)")
    fetch.add_argument("--per-class", type=integer_at_least(1), default=8000,
                       help="reviews a class in the 3-class sample (default: %(default)s)")
    sample = commands.add_parser("sample", help="draw the compact corpus of data/nsmc-sample from the full one")
    sample.add_argument("--from", dest="source", metavar="FOLDER",
                        help="a folder with the full corpus (default: the first of data/nsmc, ../shared/data/nsmc)")
    sample.add_argument("--to", dest="dest", default="data/nsmc-sample", help="(default: %(default)s)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Fetch or sample as the flags say, print the rows written, return the exit status."""
    args = parse_args(argv)
    configure_logging()
    stop_on_sigterm()
    return run_command(lambda: run(args))


def run(args: argparse.Namespace) -> int:
    """The command's body; returns 0."""
    from app.data import nsmc

    if args.command == "fetch":
        written = nsmc.fetch(args.dest, args.source, per_class=args.per_class)
    else:
        written = nsmc.make_sample(args.source or nsmc.find_part("train").parent, args.dest)
    for name, rows in written.items():
        print(f"{args.dest}/{name}: {rows:,} rows")
    return 0



if __name__ == "__main__":
    sys.exit(main())
