"""Word attributions by integrated gradients: complete (they add up to the change in
probability), signed towards a class, for every cell type and batches; their terminal
and HTML views; and predict.py --explain end to end."""

import html
import io
import warnings
from dataclasses import replace

import numpy as np
import pytest

from app.artifacts.run import SavedRun
from app.cli import predict
from app.cli.predict import explain_comments
from app.errors import DataError
from app.inference.classifier import Classifier
from app.interpret.attribution import (
    Explanation,
    attribution_html,
    attribution_line,
    integrated_gradients,
    use_color,
)
from app.modeling.network import build_model, class_probabilities

LECTURE_COMMENT = "사무직은 초근도 못하고 야근수당도 없는데 그런데 생산직은 좋겠죠"
COMMENTS = [LECTURE_COMMENT, "배우들 연기가 정말 좋았어요", "시간 아깝다 최악"]


@pytest.fixture(scope="module")
def bundle(tiny_run):
    return SavedRun.load(tiny_run, workers=1)


@pytest.fixture(scope="module")
def comments(bundle):
    """Three real comments as MeCab tokens and front-padded ids."""
    tokens = bundle.tokenizer.tokenize(COMMENTS)
    return tokens, bundle.vocab.encode(tokens, bundle.config.vocab.max_length)


def random_model(bundle, cell):
    """A model of ``cell`` with weights from N(0, 0.3²): its predictions move away from the
    baseline's by a few hundredths to a tenth, a change for the scores to add up to."""
    model = build_model(replace(bundle.config.model, cell=cell), len(bundle.vocab), 2)
    rng = np.random.default_rng(1)
    model.set_weights([rng.normal(scale=0.3, size=w.shape) for w in model.get_weights()])
    return model


@pytest.mark.parametrize("cell", ["lstm", "gru", "simple_rnn"])
def test_scores_of_a_batch_add_up_to_the_change_in_probability(bundle, comments, cell):
    tokens, ids = comments
    model = bundle.model if cell == "lstm" else random_model(bundle, cell)
    attributions = integrated_gradients(model, ids)
    assert [len(a.scores) for a in attributions] == [len(t) for t in tokens]  # a score per real token
    predicted = class_probabilities(model, ids)
    for attribution, probabilities in zip(attributions, predicted):
        assert attribution.target == probabilities.argmax()  # towards the predicted class by default
        assert attribution.probability == pytest.approx(probabilities.max(), abs=1e-5)
        change = attribution.probability - attribution.baseline_probability
        assert abs(attribution.completeness_gap) <= 0.02 * abs(change) + 1e-3


def test_the_padding_baseline_is_complete_too_and_a_batch_is_its_comments_one_by_one(bundle, comments):
    _, ids = comments
    batch = integrated_gradients(bundle.model, ids, baseline="padding")
    alone = integrated_gradients(bundle.model, ids[1:2], baseline="padding")[0]
    np.testing.assert_allclose(batch[1].scores, alone.scores, atol=1e-6)
    assert all(abs(a.completeness_gap) < 1e-3 for a in batch)


def test_for_two_classes_the_scores_towards_one_are_those_against_the_other(bundle, comments):
    _, ids = comments
    positive, = integrated_gradients(bundle.model, ids[:1], target=1)
    negative, = integrated_gradients(bundle.model, ids[:1], target=0)
    np.testing.assert_allclose(positive.scores, -negative.scores, atol=1e-5)
    assert positive.probability + negative.probability == pytest.approx(1)


def test_terminal_line_is_coloured_only_on_a_terminal_without_no_color(monkeypatch):
    tokens, scores = ["연기", "최악"], np.array([0.3, -0.1])
    assert attribution_line(tokens, scores) == "연기(+0.300) 최악(-0.100)"
    coloured = attribution_line(tokens, scores, color=True)
    assert coloured == "\033[32;1m연기(+0.300)\033[0m \033[31m최악(-0.100)\033[0m"  # green, bold for the strongest

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_color(Terminal()) and not use_color(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_color(Terminal())


def test_tokens_outside_the_vocabulary_are_marked_in_the_terminal_and_the_page(bundle, comments):
    tokens, scores = ["연기", "qqqzzz"], np.array([0.3, -0.1])
    assert attribution_line(tokens, scores, oov=[False, True]) == "연기(+0.300) qqqzzz[oov](-0.100)"
    assert attribution_line(tokens, scores, color=True, oov=[False, True]).endswith("\033[2mqqqzzz[oov](-0.100)\033[0m")

    tokens, ids = comments
    attribution, = integrated_gradients(bundle.model, ids[:1])
    oov = [False] * (len(tokens[0]) - 1) + [True]
    page = attribution_html([Explanation(1, COMMENTS[0], tokens[0], [tokens[0][-1]], "positive", "positive",
                                         attribution, None, oov=oov)], "t")
    assert page.count('class="oov"') == 1
    for score in attribution.scores:  # every score is on the page, not only in a tooltip
        assert f"<small>{score:+.3f}</small>" in page


def test_html_page_holds_every_comment_escaped_with_coloured_tokens(bundle, comments):
    tokens, ids = comments
    attributions = integrated_gradients(bundle.model, ids[:2])
    explanations = [Explanation(1, "<script>alert(1)</script>", ["<script>", *tokens[0][1:]], [], "negative", "positive",
                                attributions[0], None),
                    Explanation(2, COMMENTS[1], tokens[1], [], "positive", "positive", attributions[1], None)]
    page = attribution_html(explanations, "Word attributions: tiny & co")
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<title>Word attributions: tiny &amp; co</title>" in page
    assert page.count('<p class="tokens">') == 2
    assert page.count("<span ") == len(tokens[0]) + len(tokens[1])
    assert "rgba(0, 150, 60," in page and "rgba(210, 40, 40," in page  # green and red backgrounds
    assert all(html.escape(token) in page for token in tokens[1])
    assert "data:font/ttf;base64," in page  # Hangul renders without a Korean font installed


def test_explain_comments_prints_and_writes_a_view_per_comment_up_to_the_limit(bundle, tmp_path, capsys):
    out = io.StringIO()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        explanations = explain_comments(Classifier(bundle), [LECTURE_COMMENT, "", "좋다", "나쁘다"], tmp_path / "views", limit=3, stream=out)
    assert not [w for w in caught if "Glyph" in str(w.message)]  # every character of the heatmaps' titles and ticks drawn
    assert [e.number for e in explanations] == [1, 3]
    text = out.getvalue()
    assert "[2]\n    not explained: empty" in text
    # two classes: scores point to "positive" whatever was predicted, so green always means positive
    assert {e.label for e in explanations} == {"positive"} and text.count("token scores towards positive") == 2
    assert "lstm_1: gate activations averaged over 8 units" in text and "\033[" not in text  # no TTY: no colour
    assert sorted(p.name for p in (tmp_path / "views").iterdir()) == ["attributions.html", "gates-1.png", "gates-3.png"]
    assert "explained the first 3 of 4 comments" in capsys.readouterr().err


def test_nothing_to_explain_is_a_one_line_error(bundle, tmp_path):
    with pytest.raises(DataError, match=r"^--explain: no comment to explain \(empty\)$"):
        explain_comments(Classifier(bundle), ["  "], tmp_path, stream=io.StringIO())
    with pytest.raises(DataError, match="no token the model's vocabulary knows"):
        explain_comments(Classifier(bundle), ["㉿㉿㉿"], tmp_path, stream=io.StringIO())
    with pytest.raises(DataError, match="the input has no comments"):
        explain_comments(Classifier(bundle), [], tmp_path, stream=io.StringIO())


def test_predict_explain_prints_the_views_and_refuses_an_empty_comment(tiny_run, tmp_path, capsys):
    explain = ["--model", str(tiny_run), "--workers", "1", "--explain", "--explain-dir", str(tmp_path)]
    assert predict.main([*explain, "--text", LECTURE_COMMENT]) == 0
    printed = capsys.readouterr()
    assert f"[1] {LECTURE_COMMENT}" in printed.out and "step  forget   input  output     |c|  token" in printed.out
    assert f"gate heatmap: {tmp_path / 'gates-1.png'}" in printed.out
    assert f"attributions page {tmp_path / 'attributions.html'}" in printed.err
    assert predict.main([*explain, "--text", "qqqzzz 정말 좋아요"]) == 0
    with_unknown = capsys.readouterr().out
    assert "qqqzzz[oov](" in with_unknown and "[oov]: not in the vocabulary, the model sees <oov> there: qqqzzz" in with_unknown
    assert "  qqqzzz [oov]" in with_unknown  # the gate table's token column too

    assert predict.main([*explain, "--text", ""]) == 2
    assert capsys.readouterr().err == "error: --explain: no comment to explain (empty)\n"
