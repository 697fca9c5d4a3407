"""Word attributions: which tokens pushed a prediction, and which way.

Integrated gradients (Sundararajan et al., 2017) on the embedding output: walk each
token's embedding from a baseline (zeros, or the padding embedding) to its real
value in ``steps`` steps, average the gradients of the class probability along the
way, and multiply by the distance walked. A token's score is its share of the
probability's change: the scores of a comment sum to f(comment) - f(baseline),
which the Attribution reports so the approximation can be checked.

Also here: the views (a coloured terminal line, one HTML page for many comments),
which predict.py --explain shows for the Classifier's explanations.
"""

import html
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import keras
import numpy as np
import tensorflow as tf

from app.errors import InputError
from app.files import AtomicDirectory
from app.interpret.gates import GateTrace, gate_table, plot_gates, trace_gates

NOT_EXPLAINED = {"empty": "empty", "no_known_tokens": "no token the model's vocabulary knows"}  # by status


@dataclass
class Attribution:
    """One comment's token scores towards one class."""

    scores: np.ndarray  # one per real token; > 0 raised the class's probability, < 0 lowered it
    target: int  # the class explained (an index into the label names)
    probability: float  # f(comment): the model's probability of the target class
    baseline_probability: float  # f(baseline): the same with every token's embedding at the baseline

    @property
    def completeness_gap(self) -> float:
        """sum(scores) - (f(comment) - f(baseline)): near 0 when ``steps`` were enough."""
        return float(self.scores.sum()) - (self.probability - self.baseline_probability)


def integrated_gradients(model: keras.Model, ids: np.ndarray, target: int | None = None, steps: int = 48,
                         baseline: str = "zero") -> list[Attribution]:
    """An Attribution per row of ``ids`` (comments x length, padded with 0 as
    Vocabulary.encode makes them), towards class ``target`` or else the predicted one.
    Raises ValueError for an unknown ``baseline``, InputError for a row without tokens."""
    if baseline not in ("zero", "padding"):
        raise ValueError(f"baseline must be 'zero' or 'padding', not {baseline!r}")
    head = _from_embeddings(model)
    table = keras.ops.convert_to_numpy(model.get_layer("embedding").embeddings)
    start = np.zeros(table.shape[1], table.dtype) if baseline == "zero" else table[0]
    attributions = []
    for number, row in enumerate(np.atleast_2d(ids), start=1):
        row = row[row != 0]  # the padding is masked: only real tokens can push
        if not len(row):
            raise InputError(f"comment {number} has no tokens to attribute")
        attributions.append(_integrate(head, table[row], row, start, target, steps))
    return attributions


def _integrate(head, embedded, ids, baseline, target, steps):
    """Integrated gradients of one comment (the trapezoidal rule over ``steps`` steps)."""
    alphas = np.linspace(0, 1, steps + 1, dtype=embedded.dtype)[:, None, None]
    path = tf.constant(baseline + alphas * (embedded - baseline))  # (steps + 1, tokens, dim)
    with tf.GradientTape() as tape:
        tape.watch(path)
        probabilities = _class_probabilities(head([tf.constant(np.tile(ids, (steps + 1, 1))), path]))
        target = int(np.argmax(probabilities[-1])) if target is None else target
        along = probabilities[:, target]
    gradients = tape.gradient(along, path).numpy()  # rows are independent: each its own gradient
    average = (gradients[:-1] + gradients[1:]).mean(axis=0) / 2
    scores = ((embedded - baseline) * average).sum(axis=1)
    along = along.numpy()
    return Attribution(scores, target, float(along[-1]), float(along[0]))


def _class_probabilities(outputs):
    """(n, classes); a sigmoid output p becomes [1 - p, p]."""
    return keras.ops.concatenate([1 - outputs, outputs], axis=-1) if outputs.shape[-1] == 1 else outputs


def _from_embeddings(model):
    """A copy of ``model`` that takes the embedding layer's output as a second input.

    The token ids stay the first input: the padding mask is computed from them.
    Keras cannot cut a model at an inner tensor, so the copy is the model's own
    config with the embedding layer replaced by an input, and its weights.
    """
    config = model.get_config()
    ids_input = config["layers"][0]
    embedded = {**ids_input, "name": "embedded", "config": {
        **ids_input["config"], "name": "embedded", "dtype": "float32",
        "batch_shape": (None, None, model.get_layer("embedding").output_dim)}}
    rest = [_rewired(layer, "embedding", "embedded") for layer in config["layers"] if layer["name"] != "embedding"]
    head = keras.Model.from_config({**config, "layers": [embedded, *rest],
                                    "input_layers": [config["input_layers"], ["embedded", 0, 0]]})
    for layer in head.layers:
        if layer.weights:
            layer.set_weights(model.get_layer(layer.name).get_weights())
    return head


def _rewired(value, old, new):
    """A layer's config with every input taken from layer ``old`` taken from ``new``."""
    if isinstance(value, dict):
        if value.get("keras_history", [None])[0] == old:
            return {**value, "keras_history": [new, *value["keras_history"][1:]]}
        return {key: _rewired(item, old, new) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_rewired(item, old, new) for item in value)
    return value


# ----------------------------------------------------------------------------- views

def use_color(stream: TextIO) -> bool:
    """ANSI colour on a terminal only, and never when NO_COLOR is set (no-color.org)."""
    return stream.isatty() and not os.environ.get("NO_COLOR")


OOV_MARK = "[oov]"  # after a token outside the vocabulary: the model saw <oov> there, not the word


def attribution_line(tokens: list[str], scores: np.ndarray, color: bool = False, oov: list[bool] | None = None) -> str:
    """Each token with its score; in colour, green for a push towards the class and red
    for a push away, bold for the stronger half. A token ``oov`` marks carries OOV_MARK
    (and is dimmed in colour): its score is the <oov> embedding's at that place."""
    strongest = max(np.abs(scores).max(), 1e-12)
    parts = []
    for token, score, unknown in zip(tokens, scores, oov or [False] * len(tokens)):
        part = f"{token}{OOV_MARK if unknown else ''}({score:+.3f})"
        if color and unknown:
            part = f"\033[2m{part}\033[0m"
        elif color and score:
            bold = ";1" if abs(score) >= strongest / 2 else ""
            part = f"\033[{32 if score > 0 else 31}{bold}m{part}\033[0m"
        parts.append(part)
    return " ".join(parts)


@dataclass
class Explanation:
    """What explain_comments found for one comment."""

    number: int  # the comment's position in the input, from 1
    text: str
    tokens: list  # the tokens the model saw, in order
    unknown: list  # those of them the vocabulary does not know (the model sees <oov>), each once
    predicted: str  # the name of the predicted class
    label: str  # the name of the class the scores point to (see explained_class)
    attribution: Attribution
    trace: GateTrace  # the first recurrent layer's gates at each token
    oov: list = field(default_factory=list)  # per token: True where the vocabulary does not know it


def attribution_html(explanations: Iterable[Explanation], title: str) -> str:
    """A self-contained HTML page: each comment's tokens on a background green (pushed
    towards the predicted class) or red (away), the deeper the stronger."""
    from app.reporting.fonts import embedded_font_css

    sections = "".join(_html_section(explanation) for explanation in explanations)
    return f"""<!DOCTYPE html>
<html lang="ko"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
{embedded_font_css(title + sections)}
body {{ font-family: 'Report Hangul', sans-serif; max-width: 60em; margin: 2em auto; padding: 0 2em; line-height: 2.2; }}
.tokens span {{ display: inline-block; text-align: center; padding: 0.15em 0.3em; margin: 0.1em; border-radius: 0.3em;
                line-height: 1.3; }}
.tokens small {{ display: block; font-size: 0.7em; color: #333; }}
.tokens .oov {{ outline: 1px dashed #888; color: #666; }}
.tokens em {{ font-size: 0.7em; }}
.note {{ color: #555; font-size: 0.9em; line-height: 1.4; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p class="note">Integrated gradients: green pushed towards the class named in each heading (positive, for two
classes; else the predicted class), red away from it; each token's score is under it. A token marked oov (dashed)
is not in the vocabulary: the model saw &lt;oov&gt; there. A comment's scores add up to its probability minus the
baseline's.</p>
{sections}</body></html>
"""


def _html_section(explanation):
    attribution = explanation.attribution
    strongest = max(np.abs(attribution.scores).max(), 1e-12)
    spans = []
    for token, score, unknown in zip(explanation.tokens, attribution.scores, explanation.oov or [False] * len(explanation.tokens)):
        colour = "0, 150, 60" if score > 0 else "210, 40, 40"
        marked = ' class="oov" title="not in the vocabulary: the model saw &lt;oov&gt; here"' if unknown else ""
        spans.append(f'<span{marked} style="background: rgba({colour}, {0.8 * abs(score) / strongest:.2f})">'
                     f'{html.escape(token)}{"<em> oov</em>" if unknown else ""}<small>{score:+.3f}</small></span>')
    return (f"<h2>{explanation.number}. predicted {html.escape(explanation.predicted)}; "
            f"p({html.escape(explanation.label)}) = {attribution.probability:.3f}</h2>\n"
            f'<p class="note">{html.escape(explanation.text)}</p>\n'
            f'<p class="tokens">{"".join(spans)}</p>\n'
            f'<p class="note">sum of scores {attribution.scores.sum():+.3f} = '
            f"{attribution.probability:.3f} - {attribution.baseline_probability:.3f} at the baseline</p>\n")


# ----------------------------------------------------------------------------- explanations

def explained_class(names: list[str]) -> int | None:
    """With two classes the scores always point to the second (positive): green then
    means "pushed positive" and red "pushed negative" whatever was predicted. With
    more classes they point to the predicted class (None)."""
    return 1 if len(names) == 2 else None


def explain_encoded(model: keras.Model, names: list[str], truncate: str, texts: list[str], tokens: list[list[str]],
                    ids: np.ndarray, predicted: np.ndarray, target: int | None) -> list[Explanation]:
    """An Explanation per comment (each with a known token): ``tokens`` and ``ids`` as
    the run's tokenizer and vocabulary encode ``texts``, ``predicted`` their class indices."""
    attributions = integrated_gradients(model, ids, target=target) if len(ids) else []
    explanations = []
    for number, (text, comment_tokens, comment_ids, attribution) in enumerate(zip(texts, tokens, ids, attributions), 1):
        real = comment_ids[comment_ids != 0]
        # Vocabulary.encode keeps the last (truncate "start") or the first max_length tokens
        seen = comment_tokens[-len(real):] if truncate == "start" else comment_tokens[:len(real)]
        unknown = list(dict.fromkeys(token for token, i in zip(seen, real) if i == 1))
        explanations.append(Explanation(number, text, seen, unknown, names[predicted[number - 1]],
                                        names[attribution.target], attribution, trace_gates(model, real),
                                        oov=[bool(i == 1) for i in real]))
    return explanations


def write_explanations(texts: list[str], status: list[str], explanations: dict[int, Explanation], out_dir: Path,
                       title: str, stream: TextIO) -> Path:
    """Show each comment's token scores and gate table on ``stream``, draw its gate
    heatmap into ``out_dir`` and write one HTML page of them all; returns the page.

    ``explanations`` maps a row of ``texts`` to its Explanation; the other rows say
    why they have none (their ``status``). Each file lands in ``out_dir`` whole.
    """
    color, width = use_color(stream), len(str(len(texts)))
    with (directory := AtomicDirectory(out_dir, mode="merge")) as staging:
        for index, text in enumerate(texts):
            stream.write(f"\n[{index + 1}] {_one_line(text)}".rstrip() + "\n")
            if index not in explanations:
                stream.write(f"    not explained: {NOT_EXPLAINED[status[index]]}\n")
                continue
            explanation, name = explanations[index], f"gates-{index + 1:0{width}d}.png"
            plot_gates(explanation.trace, explanation.tokens, staging / name,
                       f"{_one_line(text)[:60]} (predicted {explanation.predicted})", explanation.oov)
            stream.write(_explanation_text(explanation, Path(out_dir) / name, color) + "\n")
        (staging / "attributions.html").write_text(attribution_html(explanations.values(), title), encoding="utf-8")
    return directory.path / "attributions.html"


def _explanation_text(explanation, heatmap, color):
    """One comment's terminal view: the prediction, the token scores, the gate table."""
    attribution, label = explanation.attribution, explanation.label
    baseline = attribution.baseline_probability
    lines = [f"predicted {explanation.predicted}; p({label}) = {attribution.probability:.3f} ({baseline:.3f} at the "
             f"baseline); token scores towards {label} (green: pushed towards it, red: away):",
             attribution_line(explanation.tokens, attribution.scores, color, explanation.oov)]
    if explanation.unknown:
        lines.append(f"{OOV_MARK}: not in the vocabulary, the model sees <oov> there: {', '.join(explanation.unknown)}")
    lines += [gate_table(explanation.trace, explanation.tokens, explanation.oov), f"gate heatmap: {heatmap}"]
    return "\n".join("    " + line for text in lines for line in text.split("\n"))


def _one_line(text):
    """The comment on one line, without control characters (no escape sequence reaches the terminal)."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())
