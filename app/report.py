"""What people read: the parameter table with its formulas, and plots of a run."""

import matplotlib

matplotlib.use("Agg")  # files only, no screen needed

import koreanize_matplotlib  # noqa: E402,F401 - registers NanumGothic so Hangul labels render
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

FORMULA_NOTES = """\
  Where the numbers come from (i = input features, u = units):
    SimpleRNN  u(i+u+1)       input kernel i·u + recurrent kernel u·u + bias u
    LSTM       4u(i+u+1)      the same for each of 4 gates: forget, input, candidate, output
    GRU        3(u(i+u)+2u)   3 gates (update, reset, candidate); Keras's reset_after keeps two biases per gate
    Dense      i·u+u          kernel + bias;   Embedding  vocab·dim;   Bidirectional  2 × the wrapped layer"""


def format_parameter_table(rows):
    """Keras's count, the closed-form formula worked out, and whether they agree."""
    header = ("layer", "type", "output shape", "params", "formula", "worked out", "agrees")
    body = [(r["layer"], r["type"], r["output_shape"], f"{r['params']:,}", r["formula"], f"{r['worked']} = {r['expected']:,}", "yes" if r["agrees"] else "NO")
            for r in rows]
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *body)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths))  # noqa: E731
    total = sum(r["params"] for r in rows)
    return "\n".join([line(header), line("-" * w for w in widths), *map(line, body),
                      f"total parameters: {total:,}", FORMULA_NOTES])


def plot_history(history, path):
    """Loss and accuracy per epoch, training against validation."""
    epochs = range(1, len(history["loss"]) + 1)
    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for axis, metric in zip(axes, ("loss", "accuracy")):
        axis.plot(epochs, history[metric], marker="o", label="train")
        if f"val_{metric}" in history:
            axis.plot(epochs, history[f"val_{metric}"], marker="o", label="validation")
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.set_title(metric)
        axis.legend()
        axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_confusion_matrix(matrix, names, path, title="test set"):
    """Counts per (true, predicted) class, with the counts written in the cells."""
    figure, axis = plt.subplots(figsize=(1.6 * len(names) + 2.5, 1.4 * len(names) + 2))
    image = axis.imshow(matrix, cmap="Blues")
    axis.set_xticks(range(len(names)), names)
    axis.set_yticks(range(len(names)), names)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.set_title(f"confusion matrix ({title})")
    peak = max(max(row) for row in matrix) or 1
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            axis.text(j, i, f"{count:,}", ha="center", va="center", color="white" if count > peak / 2 else "black")
    figure.colorbar(image, ax=axis)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
