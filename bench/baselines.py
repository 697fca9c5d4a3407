"""The two baselines of issue 6, trained end to end on the same files as the configs.

    python bench/baselines.py tfidf --train TRAIN.tsv --test TEST.tsv --output tfidf.json
    python bench/baselines.py tutorial --train TRAIN.tsv --test TEST.tsv --output tutorial.json

tfidf     TF-IDF of character 1-4 and word 1-2 n-grams, scikit-learn LogisticRegression
          with its default C = 1 (on 40,000 training reviews scored on 10,000 others,
          C = 3 and C = 10 did no better: 0.848 and 0.846 against 0.849).
tutorial  The widely copied Korean recipe: Hangul only, Okt morphemes with stemming,
          the usual stopwords removed, words seen at least 3 times, 30 tokens,
          Embedding(100) -> LSTM(128) -> sigmoid, RMSprop, batch 64, up to 15 epochs
          with early stopping on validation loss (patience 4), 20% validation.
          Two departures, so that both sides score the same rows: duplicate and
          empty reviews are kept (the tutorial drops them, from the test set too),
          and early stopping restores the best epoch's weights instead of reloading
          a checkpoint saved on validation accuracy.

Each writes its test metrics (app.evaluate) and the seconds it took, tokenizing
included. bench/run.py runs it as a child process, like train.py, to measure its
wall time and peak memory the same way.

Heavy imports (scikit-learn, Keras) happen inside the functions: the tokenizer's
worker processes re-import this file and must not pay for them.
"""

import argparse
import re
import time
from collections import Counter
from pathlib import Path

from app.files import write_json_atomically

ROOT = Path(__file__).resolve().parent.parent

SEED = 42
STOPWORDS = frozenset(["의", "가", "이", "은", "들", "는", "좀", "잘", "걍", "과", "도", "를", "으로", "자", "에", "와", "한",
                       "하다"])
NOT_HANGUL = re.compile(r"[^ㄱ-ㅎㅏ-ㅣ가-힣 ]")
TUTORIAL_MIN_COUNT = 3
TUTORIAL_LENGTH = 30


def read_split(train_path, test_path, text_column="document", label_column="label"):
    """(texts, class indices) of the training and the test file, read as train.py reads
    them, and the class names; test labels are indexed like the training ones."""
    from app.config import DataConfig
    from app.data.readers import LabelSet, load_labeled

    data = DataConfig(text_column=text_column, label_column=label_column)
    (frame, _, source), (test_frame, _, test_source) = load_labeled(str(train_path), data), load_labeled(str(test_path), data)
    labels = LabelSet.fit(frame[data.label_column], source=source)
    y, y_test = labels.encode(frame[data.label_column]), labels.encode(test_frame[data.label_column])
    if (y_test < 0).any():
        raise SystemExit(f"{test_source}: has labels the training file lacks")
    return (frame[data.text_column].tolist(), y), (test_frame[data.text_column].tolist(), y_test), labels.names


# ----------------------------------------------------------------------------- A: TF-IDF

def train_tfidf(train, test, names):
    """Fit TF-IDF + logistic regression on ``train`` (texts, labels); test metrics and timings."""
    from app.evaluation.metrics import classification_metrics
    from app.training.ngrams import tfidf_classifier

    (texts, y), (test_texts, y_test) = train, test
    started = time.perf_counter()
    model = tfidf_classifier()
    model.fit(texts, y)
    train_seconds = time.perf_counter() - started
    metrics = classification_metrics(y_test, model.predict_proba(test_texts), names)
    features = sum(len(vectorizer.vocabulary_) for _, vectorizer in model[0].transformer_list)
    return {**metrics, "train_seconds": round(train_seconds, 2), "features": features}


# ----------------------------------------------------------------------------- B: the tutorial

def tutorial_tokens(tokenizer, texts):
    """Hangul and spaces only, Okt morphemes with stemming, stopwords removed."""
    token_lists = tokenizer.tokenize([NOT_HANGUL.sub("", text) for text in texts], progress=True)
    return [[token for token in tokens if token not in STOPWORDS] for tokens in token_lists]


def tutorial_vocabulary(token_lists):
    """Word -> id for words seen at least 3 times, the most frequent first; id 0 is padding.

    The same words Keras's Tokenizer keeps in the tutorial, where ``num_words`` is the
    number of such words + 1.
    """
    counts = Counter(token for tokens in token_lists for token in tokens)
    kept = [word for word, count in counts.most_common() if count >= TUTORIAL_MIN_COUNT]
    return {word: i for i, word in enumerate(kept, start=1)}


def tutorial_sequences(token_lists, vocabulary):
    """Ids padded and cut to 30 at the front, as keras pad_sequences does by default;
    words outside the vocabulary are dropped, as Keras's Tokenizer drops them."""
    import keras

    ids = [[vocabulary[token] for token in tokens if token in vocabulary] for tokens in token_lists]
    return keras.utils.pad_sequences(ids, maxlen=TUTORIAL_LENGTH)


def tutorial_model(vocab_size):
    """Embedding(vocab, 100) -> LSTM(128) -> Dense(1, sigmoid), compiled with RMSprop."""
    import keras

    model = keras.Sequential([
        keras.Input(shape=(TUTORIAL_LENGTH,)),
        keras.layers.Embedding(vocab_size, 100),
        keras.layers.LSTM(128),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    return model


def train_tutorial(train, test, names, epochs=15):
    """Tokenize, build the vocabulary, fit with early stopping; test metrics and timings."""
    import keras
    import numpy as np

    from app.evaluation.metrics import classification_metrics
    from app.text.tokenizer import Tokenizer

    (texts, y), (test_texts, y_test) = train, test
    if len(names) != 2:
        raise SystemExit(f"the tutorial recipe is binary; the training file has {len(names)} classes")
    keras.utils.set_random_seed(SEED)
    started = time.perf_counter()
    tokenizer = Tokenizer("okt", stem=True, cache=False)
    try:
        tokens, test_tokens = tutorial_tokens(tokenizer, texts), tutorial_tokens(tokenizer, test_texts)
    finally:
        tokenizer.close()
    tokenize_seconds = time.perf_counter() - started
    vocabulary = tutorial_vocabulary(tokens)
    model = tutorial_model(len(vocabulary) + 1)
    stopping = keras.callbacks.EarlyStopping(monitor="val_loss", patience=4, restore_best_weights=True, verbose=1)
    started = time.perf_counter()
    history = model.fit(tutorial_sequences(tokens, vocabulary), y, epochs=epochs, batch_size=64,
                        validation_split=0.2, callbacks=[stopping], verbose=2).history
    train_seconds = time.perf_counter() - started
    positive = model.predict(tutorial_sequences(test_tokens, vocabulary), batch_size=1024, verbose=0)[:, 0]
    metrics = classification_metrics(y_test, np.stack([1 - positive, positive], axis=1), names)
    epochs_run = len(history["loss"])
    return {**metrics, "tokenize_seconds": round(tokenize_seconds, 2), "train_seconds": round(train_seconds, 2),
            "epochs_run": epochs_run, "best_epoch": int(np.argmin(history["val_loss"])) + 1,
            "seconds_per_epoch": round(train_seconds / epochs_run, 2), "vocab_size": len(vocabulary) + 1}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("baseline", choices=["tfidf", "tutorial"])
    parser.add_argument("--train", required=True, help="labeled training file (document, label)")
    parser.add_argument("--test", required=True, help="labeled test file")
    parser.add_argument("--output", required=True, help="where the metrics JSON goes")
    parser.add_argument("--text-column", default="document", help="the column holding the comments (default: %(default)s)")
    parser.add_argument("--label-column", default="label", help="the column holding the labels (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=15, help="tutorial: most epochs (default: %(default)s)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    train, test, names = read_split(args.train, args.test, args.text_column, args.label_column)
    if args.baseline == "tfidf":
        result = train_tfidf(train, test, names)
    else:
        result = train_tutorial(train, test, names, args.epochs)
    result["seconds"] = round(time.perf_counter() - started, 2)
    print(f"{args.baseline}: test accuracy {result['accuracy']:.4f}, macro-F1 {result['macro_f1']:.4f}, "
          f"{result['seconds']:.1f}s end to end", flush=True)
    write_json_atomically(args.output, result)


if __name__ == "__main__":
    main()
