"""Gradients through time and the gradient norm of training, per cell type: how far
back a model's gradients reach, and what clipping does (python -m app.cli.explain)."""


import csv
import dataclasses
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from app.display import aligned
from app.errors import BundleError, DataError
from app.files import atomic_file, write_json_atomically
from app.modeling.cells import CELLS

if TYPE_CHECKING:
    import keras

    from app.artifacts.run import SavedRun

log = logging.getLogger(__name__)
SAMPLE_SEED = 0  # the same comments for every model and every run
MIN_COMMENTS = 20  # a distance fewer comments reach is too noisy to plot or compare
RATIO_DISTANCES = (10, 20, 40)
BATCH_SIZE = 256


# ----------------------------------------------------------------------------- gradients through time

@dataclasses.dataclass
class GradientCurve:
    """One model's mean gradient norm at each distance from the end of the comment."""

    run: str  # the run directory's name
    cell: str  # a registered cell: simple_rnn, lstm, gru...
    mean_norm: np.ndarray  # index = distance from the last token
    comments: np.ndarray  # how many comments reach each distance

    @property
    def label(self) -> str:
        """The curve's legend: the cell's display name and the run."""
        return f"{CELLS[self.cell].display_name} ({self.run})"

    def ratio(self, distance: int) -> float | None:
        """How many times weaker the gradient is ``distance`` tokens back than at the last
        token; None where too few comments reach that far."""
        if distance >= len(self.comments) or self.comments[distance] < MIN_COMMENTS:
            return None
        return float(self.mean_norm[0] / self.mean_norm[distance])


def sample_comments(bundle: "SavedRun", spec: str, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids, class indices) of up to ``limit`` labeled comments of ``spec``, encoded as the
    model was trained: its columns, tokenizer, vocabulary, length and truncation.

    The sample is drawn with a fixed seed, so every model (with the same columns) and
    every run of the command sees the same comments. Rows whose label the model does not
    know and comments without a single token are left out. Raises DataError when the
    model knows none of the file's labels.
    """
    from app.data.readers import load_labeled

    # the model's columns; format and encoding are the new file's own
    data_config = dataclasses.replace(bundle.config.data, format=None, encoding=None, encoding_errors="strict")
    frame, _, source = load_labeled(spec, data_config)
    labels = bundle.labels.encode(frame[data_config.label_column])
    known = labels >= 0
    if not known.any():
        raise DataError(f"{source}: none of its labels are ones {bundle.path} knows ({', '.join(bundle.labels.values)})")
    if not known.all():
        log.info(f"      left out {int((~known).sum()):,} rows whose label {bundle.path.name} does not know "
                 f"(it knows {', '.join(bundle.labels.values)})")
    frame, labels = frame[known], labels[known]
    if len(frame) > limit:
        rows = np.sort(np.random.default_rng(SAMPLE_SEED).choice(len(frame), size=limit, replace=False))
        frame, labels = frame.iloc[rows], labels[rows]
    _, ids = bundle.encode(frame[data_config.text_column].tolist())
    bundle.tokenizer.close()
    has_tokens = (ids != 0).any(axis=1)
    return ids[has_tokens], labels[has_tokens]


def gradient_norms(model: "keras.Model", ids: np.ndarray, labels: np.ndarray,
                   batch_size: int = BATCH_SIZE) -> np.ndarray:
    """A (comments, steps) array: at each step t the norm of d loss / d x_t, where x_t is
    the embedded token the recurrent layer reads at t (the embedding's output; spatial
    dropout is off at inference) and the loss is the comment's own.

    Summing the comments' losses gives each comment the gradient of its own loss, the
    same in any batch. Padding steps are masked, so their gradient is 0.
    """
    import keras
    import tensorflow as tf

    from app.modeling.losses import loss_function
    from app.modeling.network import output_classes

    # the same layers and weights, also returning the embedded tokens
    embedded_and_output = keras.Model(model.input, [model.get_layer("embedding").output, model.output])
    loss = loss_function(output_classes(model), reduction="sum")

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None], tf.int64)])
    def batch_norms(batch_ids: tf.Tensor, batch_labels: tf.Tensor) -> tf.Tensor:  # traced once for any batch and comment length
        """(batch, steps) norms of the gradient of the batch's summed loss at each embedded token."""
        with tf.GradientTape() as tape:
            embedded, probabilities = embedded_and_output(batch_ids, training=False)
            total = loss(batch_labels, probabilities)
        return tf.norm(tape.gradient(total, embedded), axis=-1)

    return np.concatenate([batch_norms(ids[i:i + batch_size], labels[i:i + batch_size]).numpy()
                           for i in range(0, len(ids), batch_size)])


def by_distance(norms: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean norm, comment count) at each distance from the end of the comment, 0 being
    the last token, for every distance some comment reaches; padding is not counted.

    Comments are padded at the front, so the last column is every comment's last token.
    """
    norms, real = norms[:, ::-1], ids[:, ::-1] != 0  # column d: d tokens before the last
    comments = real.sum(axis=0)
    reached = int((comments > 0).sum())  # real tokens are contiguous, so a prefix
    mean_norm = (norms * real).sum(axis=0)[:reached] / comments[:reached]
    return mean_norm, comments[:reached]


def plot_gradients(curves: list[GradientCurve], path: str | os.PathLike) -> None:
    """One line per model: the mean gradient norm against the distance from the end,
    log scale, over the distances that at least MIN_COMMENTS comments reach."""
    from app.reporting.plots import (  # Agg backend and NanumGothic (Hangul) are set up there
        plt,
        save_figure,
    )

    figure, axis = plt.subplots(figsize=(8, 5))
    for curve in curves:
        shown = curve.comments >= MIN_COMMENTS
        axis.plot(np.flatnonzero(shown), curve.mean_norm[shown], marker=".", label=curve.label)
    _log_scale(axis)
    axis.set_xlabel("댓글 끝에서의 거리 (distance from the last token)")
    axis.set_ylabel("mean ‖d loss / d x_t‖ (log scale)")
    axis.set_title(f"시간을 거슬러 가는 기울기 (gradient through time; distances ≥ {MIN_COMMENTS} comments reach)")
    axis.grid(alpha=0.3, which="both")
    axis.legend()
    save_figure(figure, path)


def write_gradient_numbers(curves: list[GradientCurve], data: str, limit: int, path: Path) -> None:
    """The curves as CSV (one row per model and distance) and JSON, beside the figure."""
    with atomic_file(path.with_suffix(".csv"), newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["run", "cell", "distance", "mean_norm", "comments"])
        for curve in curves:
            for distance, (norm, comments) in enumerate(zip(curve.mean_norm, curve.comments)):
                writer.writerow([curve.run, curve.cell, distance, f"{norm:.6g}", int(comments)])
    models = [{"run": c.run, "cell": c.cell, "mean_norm": [float(v) for v in c.mean_norm],
               "comments": [int(v) for v in c.comments],
               "ratio": {str(d): c.ratio(d) for d in RATIO_DISTANCES}} for c in curves]
    summary = {"data": data, "limit": limit, "min_comments": MIN_COMMENTS, "models": models}
    write_json_atomically(path.with_suffix(".json"), summary)


def format_gradient_table(curves: list[GradientCurve]) -> str:
    """Per model: the norm at the last token and how many times weaker it is further back."""
    header = ("model", "comments", "norm at 0", *(f"0 vs {d}" for d in RATIO_DISTANCES))
    rows = [(c.label, f"{c.comments[0]:,}", f"{c.mean_norm[0]:.3g}",
             *("-" if c.ratio(d) is None else f"{c.ratio(d):,.3g}x" for d in RATIO_DISTANCES)) for c in curves]
    return aligned(header, rows) + (f"\n0 vs d: the mean gradient norm at the last token over the one d tokens back "
                                   f"(-: fewer than {MIN_COMMENTS} comments reach d)")


# ----------------------------------------------------------------------------- clipping

def read_grad_norms(path: str | os.PathLike) -> list[float]:
    """The ``grad_norm`` column of a run's history.csv, one value per epoch.
    Raises BundleError when the file or the column is missing."""
    from app.artifacts.run import read_history

    if not Path(path).is_file():
        raise BundleError(f"{path}: not found; the run has no training history")
    history = read_history(path)
    if "grad_norm" not in history:
        raise BundleError(f"{path}: no grad_norm column; the run was trained before gradient norms were logged (retrain it)")
    return history["grad_norm"]


def plot_clipping(runs: list[tuple[str, float | None, list[float]]], path: str | os.PathLike) -> None:
    """Gradient norm per epoch, one line per run, log scale; a dashed line at each clipnorm."""
    from app.reporting.plots import (  # Agg backend and NanumGothic (Hangul) are set up there
        epoch_axis,
        plt,
        save_figure,
    )

    figure, axis = plt.subplots(figsize=(8, 5))
    for name, clipnorm, norms in runs:
        axis.plot(range(1, len(norms) + 1), norms, marker="o",
                  label=f"{name} ({'no clipnorm' if clipnorm is None else f'clipnorm {clipnorm:g}'})")
    for clipnorm in sorted({clipnorm for _, clipnorm, _ in runs if clipnorm is not None}):
        axis.axhline(clipnorm, color="grey", linestyle="--", linewidth=1,
                     label=f"clipnorm {clipnorm:g} (the limit on each weight's gradient norm)")
    _log_scale(axis)
    epoch_axis(axis, max(len(norms) for _, _, norms in runs))
    axis.set_ylabel("global gradient norm before clipping (log scale)")
    axis.set_title("학습 중 기울기 크기 (gradient norm during training)")
    axis.grid(alpha=0.3, which="both")
    axis.legend(fontsize=8)
    save_figure(figure, path)


def format_clipping_table(runs: list[tuple[str, float | None, list[float]]]) -> str:
    """Per run: its clipnorm and the gradient norm after the first and last epoch, and the largest."""
    header = ("run", "clipnorm", "epochs", "first", "last", "largest")
    rows = [(name, "-" if clipnorm is None else f"{clipnorm:g}", str(len(norms)), f"{norms[0]:.3g}",
             f"{norms[-1]:.3g}", f"{max(norms):.3g}")
            for name, clipnorm, norms in runs]
    return aligned(header, rows)




# ----------------------------------------------------------------------------- files

def _log_scale(axis):
    """A log y axis labelled 0.1, 0.2, 0.5, 1...: plain text, as NanumGothic lacks the
    math minus sign of 10⁻¹."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_yscale("log")
    axis.yaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
    axis.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.yaxis.set_minor_formatter(NullFormatter())

