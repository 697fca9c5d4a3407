"""Experiment (issue 6): morphemes and syllables in one sequence, with the one-layer BiLSTM of best.yaml then.

    python bench/experiments/chars_and_morphemes.py

Each comment becomes its MeCab morphemes, a separator token, then its syllables
(characters other than spaces): 희망이 -> 희망 이 <chars> 희 망 이. The sequence is
about 2.6 times longer, so max_length is 150 and the vocabulary 33,000. Syllables
that are also morphemes share their id and pretrained vector. Everything else is
train.py's run of best.yaml (the model is not saved). ``--quick``: a few thousand reviews.
"""

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# best.yaml as it was when this was measured: one BiLSTM layer, a constant learning rate, no distillation
ONE_LAYER_BEST = ["model.layers=1", "train.lr_schedule=constant", "distill.unlabeled=null"]

SEPARATOR = "<chars>"


def with_syllables(token_lists, texts):
    return [tokens + [SEPARATOR] + [c for c in text if not c.isspace()] for tokens, text in zip(token_lists, texts)]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()

    from app.config import load_config
    from app.data.readers import load_labeled
    from app.training import run as experiment

    quick = ["data.max_rows=3000", "pretrain.max_rows=5000", "train.epochs=1"] if args.quick else []
    config = load_config(ROOT / "configs" / "best.yaml",
                         [*ONE_LAYER_BEST, "vocab.max_length=150", "vocab.max_size=33000", *quick])
    prepared = experiment.prepare_data(config)
    frame, _, _ = load_labeled(config.data.train, config.data)
    if config.data.max_rows:  # the same sample prepare_data took
        frame = frame.sample(n=config.data.max_rows, random_state=config.train.seed).reset_index(drop=True)
    prepared.tokens = with_syllables(prepared.tokens, frame[config.data.text_column].tolist())
    prepared.test_tokens = with_syllables(prepared.test_tokens, prepared.test_texts)
    print("first comment:", " ".join(prepared.tokens[0]))
    trained = experiment.train_model(config, prepared)
    print(f"test accuracy {trained.metrics['accuracy']:.4f}, fitting {trained.metrics['train_seconds']:.0f}s")


if __name__ == "__main__":
    main()
