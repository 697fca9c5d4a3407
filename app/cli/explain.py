"""Look inside trained models: how far back their gradients reach, and what clipping does.

    python -m app.cli.explain gradients --model models/<simple_rnn run> --model models/<lstm run> \\
        --model models/<gru run> --data nsmc:test --out gradients.png
    python -m app.cli.explain clipping --model models/<run with clipnorm> --model models/<run without> \\
        --out clipping.png

gradients: for each model, real comments (a reproducible sample of --limit) are tokenized
with the model's own tokenizer and vocabulary. At every step t the norm of the gradient of
the comment's loss with respect to x_t, the embedded token the recurrent layer reads, is
averaged over comments as a function of the distance from the end of the comment
(0 = the last token; padding is not counted). What to look for: a gradient that vanishes
as it travels back through a SimpleRNN, and LSTM and GRU gates that carry it further.
With pooling over all states (max, mean) every step also gets gradient straight from its
own output, which flattens the curves; and further distances average over fewer, longer
comments (the .csv says how many). Written: the figure (--out) and its numbers beside it
(.csv, .json); printed: how many times weaker the gradient is 10, 20 and 40 tokens back.

clipping: the gradient norm each run logged after every epoch of training (grad_norm in
history.csv), one line per run, with the run's clipnorm drawn where it has one.
"""

import argparse
import sys
import time
from pathlib import Path

from app.cli.common import (
    add_verbose_flag,
    integer_at_least,
    prepare_process,
    run_command,
)
from app.errors import BundleError, InputError

FIGURE_SUFFIXES = (".png", ".svg", ".pdf")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The parsed command line (``gradients`` or ``clipping`` and their flags); argparse exits on a usage error."""
    parser = argparse.ArgumentParser(prog="python -m app.cli.explain", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    gradient = commands.add_parser("gradients", help="gradient norm against the distance from the end of the comment")
    gradient.add_argument("--model", action="append", required=True, help="a run directory (repeatable: one line each)")
    gradient.add_argument("--data", required=True, help="a labeled comment file, or nsmc:test")
    gradient.add_argument("--limit", type=integer_at_least(1), default=500, help="comments sampled from --data (default: %(default)s)")
    gradient.add_argument("--out", default="gradients.png", help="the figure; .csv and .json are written beside it (default: %(default)s)")
    gradient.set_defaults(run=gradients)
    add_verbose_flag(gradient)
    clip = commands.add_parser("clipping", help="the gradient norm per epoch of training runs, with their clipnorm")
    clip.add_argument("--model", action="append", required=True, help="a run directory (repeatable: one line each)")
    clip.add_argument("--out", default="clipping.png", help="the figure (default: %(default)s)")
    clip.set_defaults(run=clipping)
    add_verbose_flag(clip)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the chosen subcommand and return its exit status."""
    args = parse_args(argv)
    prepare_process(args.verbose)
    return run_command(lambda: args.run(args))



def gradients(args: argparse.Namespace) -> int:
    """Plot and print each model's gradient norm against the distance from the end of the comment; returns 0."""
    from app.artifacts.run import SavedRun
    from app.data.readers import resolve_data_path
    from app.interpret.gradients import (
        GradientCurve,
        by_distance,
        format_gradient_table,
        gradient_norms,
        plot_gradients,
        sample_comments,
        write_gradient_numbers,
    )

    out = figure_path(args.out)
    resolve_data_path(args.data)  # a bad --data fails before any model is loaded
    bundles = [SavedRun.load(path) for path in args.model]
    curves = []
    for number, bundle in enumerate(bundles, start=1):
        print(f"[{number}/{len(bundles)}] {bundle.path}: tokenizing, then gradients...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        ids, labels = sample_comments(bundle, args.data, args.limit)
        mean_norm, comments = by_distance(gradient_norms(bundle.model, ids, labels), ids)
        curves.append(GradientCurve(bundle.path.name, bundle.config.model.cell, mean_norm, comments))
        print(f"      {len(ids):,} comments in {time.perf_counter() - started:.1f}s", file=sys.stderr, flush=True)
    plot_gradients(curves, out)
    write_gradient_numbers(curves, args.data, args.limit, out)
    print(format_gradient_table(curves))
    print(f"wrote {out}, {out.with_suffix('.csv')}, {out.with_suffix('.json')}", file=sys.stderr)
    return 0



def clipping(args: argparse.Namespace) -> int:
    """Plot and print each run's logged gradient norm per epoch with its clipnorm; returns 0."""
    from app.artifacts.run import read_config
    from app.interpret.gradients import (
        format_clipping_table,
        plot_clipping,
        read_grad_norms,
    )

    out = figure_path(args.out)
    runs = []
    for path in map(Path, args.model):
        if not path.is_dir():
            raise BundleError(f"{path}: not a model directory (expected a run under models/ made by train.py)")
        runs.append((path.name, read_config(path).train.clipnorm, read_grad_norms(path / "history.csv")))
    plot_clipping(runs, out)
    print(format_clipping_table(runs))
    print(f"wrote {out}", file=sys.stderr)
    return 0


def figure_path(out: str | Path) -> Path:
    """--out checked before any work: a figure format, in a directory that can be made."""
    path = Path(out)
    if path.suffix.lower() not in FIGURE_SUFFIXES:
        raise InputError(f"--out {out}: the figure must end in {', '.join(FIGURE_SUFFIXES)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


if __name__ == "__main__":
    sys.exit(main())
