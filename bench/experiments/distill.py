"""Experiment (issue 6): distil a best.yaml + n-gram ensemble into one best.yaml model.

    python train.py --config configs/best.yaml --set distill.unlabeled=null --models-dir bench/runs --name best2
    python bench/experiments/distill.py bench/runs/best2 --unlabeled-rows 200000 --warm-start --set train.epochs=2

The teacher is the plain mean of a trained best.yaml run's probabilities and those of
an n-gram model of app/ngrams.py fitted on the same training rows: the naive-Bayes
one of app/distill.py, or with ``--linear tfidf`` the TF-IDF baseline. It scores the
unlabeled reviews; a best.yaml model then learns from the training reviews' labels
and the teacher's probabilities for the unlabeled ones (binary cross-entropy takes a
soft target as it is), is stopped on the labeled validation split, and is scored on
the test set. The student starts afresh (CBOW vectors, as train.py builds it), or
with ``--warm-start`` from the teacher's weights. ``--unlabeled-rows`` takes a random
part of the unlabeled reviews (drawn with seed 0; train.py's distill.max_rows draws
with train.seed). train.py does all of this in one command (the distill section of
best.yaml), its teacher trained first; this script reuses a trained one, to try the
student's settings for less.
"""

import argparse
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("teacher", help="a run directory trained with configs/best.yaml")
    parser.add_argument("--unlabeled-rows", type=int, default=None)
    parser.add_argument("--linear", choices=["naive_bayes", "tfidf"], default="naive_bayes",
                        help="the teacher's n-gram half (app/ngrams.py)")
    parser.add_argument("--warm-start", action="store_true",
                        help="the student starts from the teacher's recurrent weights, not from CBOW vectors")
    parser.add_argument("--set", action="append", default=[], help="config overrides for the student")
    args = parser.parse_args()

    from app.artifacts.run import SavedRun
    from app.config import load_config
    from app.data.splits import stratified_split
    from app.evaluation.metrics import classification_metrics
    from app.modeling.network import build_model, class_probabilities
    from app.text.vocab import Vocabulary
    from app.training import ngrams
    from app.training import run as experiment
    from app.training.fit import fit, set_seed
    from app.training.pretrain import embedding_matrix, read_unlabeled

    started = time.perf_counter()
    config = load_config(ROOT / "configs" / "best.yaml", args.set)
    set_seed(config.train.seed)
    prepared = experiment.prepare_data(config)
    unlabeled_texts, _ = read_unlabeled(config.pretrain, config.data)
    if args.unlabeled_rows:
        keep = np.sort(np.random.default_rng(0).permutation(len(unlabeled_texts))[:args.unlabeled_rows])
        unlabeled_texts = [unlabeled_texts[i] for i in keep]
    unlabeled_tokens = prepared.tokenizer.tokenize(unlabeled_texts)
    prepared.tokenizer.close()
    fit_rows, val_rows = stratified_split(prepared.y, config.train.validation_split, config.train.seed)

    # 1. the teacher's probability of the positive class for every unlabeled review
    teacher_started = time.perf_counter()
    bundle = SavedRun.load(args.teacher)
    length, truncate = bundle.config.vocab.max_length, bundle.config.vocab.truncate
    recurrent = class_probabilities(bundle.model, bundle.vocab.encode(unlabeled_tokens, length, truncate))[:, 1]
    ngram_model = getattr(ngrams, f"{args.linear}_classifier")()
    ngram_model.fit([prepared.texts[i] for i in fit_rows], prepared.y[fit_rows])
    linear = ngram_model.predict_proba(unlabeled_texts)[:, 1]
    soft = ((recurrent + linear) / 2).astype("float32")
    test_ids = bundle.vocab.encode(prepared.test_tokens, length, truncate)
    test_mean = (class_probabilities(bundle.model, test_ids) + ngram_model.predict_proba(prepared.test_texts)) / 2
    print(f"teacher: test accuracy {np.mean(test_mean.argmax(1) == prepared.y_test):.4f} ({args.linear})", flush=True)
    print(f"teacher: {len(soft):,} unlabeled reviews scored in {time.perf_counter() - teacher_started:.0f}s; "
          f"mean positive {soft.mean():.3f}, {np.mean(np.abs(soft - 0.5) > 0.4):.1%} surer than 0.9; "
          f"the two agree on {np.mean((recurrent > 0.5) == (linear > 0.5)):.1%}", flush=True)

    # 2. the student: best.yaml's vocabulary, CBOW start and model, on labels and soft labels
    vocab = Vocabulary.fit([prepared.tokens[i] for i in fit_rows], config.vocab.max_size, config.vocab.min_count,
                           prepared.word_vectors.tokens)
    length, truncate = config.vocab.max_length, config.vocab.truncate
    ids, y = vocab.encode(prepared.tokens, length, truncate), prepared.y.astype("float32")
    train_ids = np.concatenate([ids[fit_rows], vocab.encode(unlabeled_tokens, length, truncate)])
    train_y = np.concatenate([y[fit_rows], soft])
    model = build_model(config.model, len(vocab), len(prepared.labels.names))
    if args.warm_start:  # the same vocabulary: the teacher's was fitted on the same rows and vectors
        if bundle.vocab.tokens != vocab.tokens:
            raise SystemExit(f"error: {args.teacher}: its vocabulary is not best.yaml's on these rows; "
                             "no --warm-start from it")
        model.set_weights(bundle.model.get_weights())
    else:
        model.get_layer("embedding").set_weights([embedding_matrix(prepared.word_vectors, vocab, config.train.seed)[0]])
    fit_started = time.perf_counter()
    print(f"student: {len(train_y):,} training reviews ({len(fit_rows):,} labeled)", flush=True)
    fitted = fit(model, (train_ids, train_y), (ids[val_rows], y[val_rows]), config.train, len(prepared.labels.names))
    probabilities = class_probabilities(fitted.model, vocab.encode(prepared.test_tokens, length, truncate))
    accuracy = classification_metrics(prepared.y_test, probabilities, prepared.labels.names)["accuracy"]
    print(f"student: {time.perf_counter() - fit_started:.0f}s fitting, {len(fitted.history['loss'])} epochs; "
          f"test accuracy {accuracy:.4f}; {time.perf_counter() - started:.0f}s in all")


if __name__ == "__main__":
    main()
