"""Shared fixtures: a tiny real model trained once per session on the bundled sample."""

import os
import shutil
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SAMPLE = PROJECT_ROOT / "data" / "sample_binary.tsv"
SAMPLE_3CLASS = PROJECT_ROOT / "data" / "sample_3class.tsv"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None and not os.environ.get("KOSENT_REQUIRE_BROWSER"),
                                    reason="no Chromium here (.ci/run installs it and sets KOSENT_REQUIRE_BROWSER)")


def launch_chromium(playwright):
    """Debian's headless Chromium through Playwright, with nothing of its own to fetch."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=[
        "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"])


def fonts_drawing(page, selector):
    """The fonts Chromium really drew ``selector``'s text with (DevTools' platform fonts)."""
    devtools = page.context.new_cdp_session(page)
    devtools.send("DOM.enable")
    devtools.send("CSS.enable")
    root = devtools.send("DOM.getDocument")["root"]["nodeId"]
    node = devtools.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    return devtools.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]


@pytest.fixture(scope="session", autouse=True)
def token_cache(tmp_path_factory):
    """Keep the token cache of test runs out of the project's .cache/."""
    path = tmp_path_factory.mktemp("token-cache")
    os.environ["KOSENT_CACHE_DIR"] = str(path)
    return path


@pytest.fixture(scope="session")
def tiny_config():
    from app.config import load_config

    return load_config(PROJECT_ROOT / "tests" / "tiny.yaml", ["train.epochs=2", "model.units=8", "model.embedding_dim=8"])


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_config):
    """A real run saved by SavedRun.save: Okt-free, MeCab tokens, a 2-epoch LSTM."""
    from app.artifacts.run import SavedRun
    from app.data.readers import LabelSet, load_labeled
    from app.modeling.network import build_model
    from app.modeling.parameters import parameter_table
    from app.text.tokenizer import Tokenizer
    from app.text.vocab import Vocabulary
    from app.training.fit import fit, set_seed

    config = tiny_config
    set_seed(config.train.seed)
    frame, _, _ = load_labeled(str(SAMPLE), config.data)
    labels = LabelSet.fit(frame["label"], config.data.label_names)
    y = labels.encode(frame["label"])
    tokenizer = Tokenizer.from_config(config.tokenizer)
    tokens = tokenizer.tokenize(frame["document"].tolist())
    vocab = Vocabulary.fit(tokens, config.vocab.max_size, config.vocab.min_count)
    ids = vocab.encode(tokens, config.vocab.max_length)
    model = build_model(config.model, len(vocab), 2)
    history = fit(model, (ids, y), (ids[:40], y[:40]), config.train, 2)
    models_dir = tmp_path_factory.mktemp("models")
    run = SavedRun(model=model, config=config, tokenizer=tokenizer, vocab=vocab, labels=labels,
                   metrics={"accuracy": 0.0, "macro_f1": 0.0, "params": model.count_params()},
                   params=parameter_table(model), history=history.history)
    path = run.save(models_dir, "tiny").path
    return path


@pytest.fixture(scope="session")
def exported_tiny_run(tiny_run, tmp_path_factory):
    """tiny_run, copied, with its ONNX export: predict.py --runtime onnx starts in about a
    second instead of importing TensorFlow (for tests that must start processes)."""
    from app.export.formats import export_run

    path = tmp_path_factory.mktemp("exported") / "tiny"
    shutil.copytree(tiny_run, path)
    export_run(path, "onnx")
    return path
