"""Experiment (issue 6): ULMFiT/ELMo-style language-model pretraining of the one-layer BiLSTM of best.yaml then.

    python bench/experiments/lm_pretraining.py --lm-epochs 1

A forward LSTM learns to predict each next token, and a backward LSTM each previous
one, on the unlabeled reviews and the training reviews (sampled softmax over 1,024
tokens; the embedding starts from best.yaml's CBOW vectors and is shared). The two
then become the forward and backward halves of best.yaml's BiLSTM, which is
fine-tuned on the labeled reviews as train.py does, and scored on the test set.
``--quick`` runs it on a few thousand reviews, to check that it works.
"""

import argparse
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]

# best.yaml as it was when this was measured: one BiLSTM layer, a constant learning rate, no distillation
ONE_LAYER_BEST = ["model.layers=1", "train.lr_schedule=constant", "distill.unlabeled=null"]

SAMPLED = 1024  # tokens the sampled softmax scores per step, instead of the whole vocabulary
BATCH = 512


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lm-epochs", type=float, default=1.0)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()

    import keras
    import tensorflow as tf

    from app.config import load_config
    from app.data.splits import stratified_split
    from app.evaluation.metrics import classification_metrics
    from app.modeling.network import build_model, class_probabilities
    from app.text.vocab import Vocabulary, padded_spans
    from app.training import run as experiment
    from app.training.fit import LengthBatches, fit, set_seed
    from app.training.pretrain import embedding_matrix, read_unlabeled

    quick = ["data.max_rows=3000", "pretrain.max_rows=5000", "train.epochs=1"] if args.quick else []
    config = load_config(ROOT / "configs" / "best.yaml", [*ONE_LAYER_BEST, *quick])
    set_seed(config.train.seed)
    prepared = experiment.prepare_data(config)
    unlabeled_texts, _ = read_unlabeled(config.pretrain, config.data)
    unlabeled_tokens = prepared.tokenizer.tokenize(unlabeled_texts)
    prepared.tokenizer.close()
    # the vocabulary and embedding train.py would build
    fit_rows, val_rows = stratified_split(prepared.y, config.train.validation_split, config.train.seed)
    vocab = Vocabulary.fit([prepared.tokens[i] for i in fit_rows], config.vocab.max_size, config.vocab.min_count,
                           prepared.word_vectors.tokens)
    length, size, dim, units = config.vocab.max_length, len(vocab), config.model.embedding_dim, config.model.units
    start_vectors, _ = embedding_matrix(prepared.word_vectors, vocab, config.train.seed)

    # 1. the language models
    lm_ids = vocab.encode(unlabeled_tokens + prepared.tokens, length)
    lm_ids = lm_ids[padded_spans(lm_ids) >= 2]
    embedding = keras.layers.Embedding(size, dim, mask_zero=True)
    embedding.build((None, None))
    embedding.set_weights([start_vectors])
    forward, backward = keras.layers.LSTM(units, return_sequences=True), keras.layers.LSTM(units, return_sequences=True)
    softmax = {lstm: (tf.Variable(tf.random.normal([size, units], stddev=0.05)), tf.Variable(tf.zeros([size])))
               for lstm in (forward, backward)}
    optimizer = keras.optimizers.Adam(1e-3, clipnorm=1.0)

    def next_token_loss(lstm, ids):
        inputs, targets = ids[:, :-1], ids[:, 1:]
        states = lstm(embedding(inputs), mask=inputs != 0, training=True)
        real = targets != 0
        weights, biases = softmax[lstm]
        return tf.reduce_mean(tf.nn.sampled_softmax_loss(
            weights, biases, tf.cast(tf.boolean_mask(targets, real)[:, None], tf.int64),
            tf.boolean_mask(states, real), SAMPLED, size))

    @tf.function(reduce_retracing=True)
    def train_step(ids):
        with tf.GradientTape() as tape:
            # backward: the reversed comment (its padding now at the end, masked)
            losses = next_token_loss(forward, ids), next_token_loss(backward, tf.reverse(ids, axis=[1]))
            total = losses[0] + losses[1]
        variables = (embedding.trainable_weights + forward.trainable_weights + backward.trainable_weights
                     + [v for pair in softmax.values() for v in pair])
        optimizer.apply(tape.gradient(total, variables), variables)
        return losses

    # batches of similar length cut to their longest comment, as training makes them (the labels are unused)
    order = np.random.default_rng(config.train.seed).permutation(len(lm_ids))
    batches = LengthBatches(lm_ids[order], np.zeros(len(lm_ids)), BATCH, seed=config.train.seed).batches
    steps, started, loss_sums = max(1, int(args.lm_epochs * len(batches))), time.perf_counter(), np.zeros(2)
    print(f"language models: {len(lm_ids):,} comments, {steps:,} steps of {BATCH}", flush=True)
    for step in range(1, steps + 1):
        batch_ids, _ = batches[(step - 1) % len(batches)]
        loss_sums += [float(loss) for loss in train_step(tf.constant(batch_ids))]
        if step % 200 == 0 or step == steps:
            forward_loss, backward_loss = loss_sums / step
            print(f"  step {step:,}/{steps:,}: mean loss so far forward {forward_loss:.3f}, backward "
                  f"{backward_loss:.3f} ({time.perf_counter() - started:.0f}s)", flush=True)
    print(f"language models: {time.perf_counter() - started:.0f}s")

    # 2. the classifier, its embedding and BiLSTM started from them, fine-tuned
    model = build_model(config.model, size, len(prepared.labels.names))
    model.get_layer("embedding").set_weights(embedding.get_weights())
    bidirectional = model.get_layer(f"bidirectional_{config.model.cell}_1")
    bidirectional.forward_layer.set_weights(forward.get_weights())
    bidirectional.backward_layer.set_weights(backward.get_weights())
    ids, y = vocab.encode(prepared.tokens, length), prepared.y
    started = time.perf_counter()
    fitted = fit(model, (ids[fit_rows], y[fit_rows]), (ids[val_rows], y[val_rows]), config.train, len(prepared.labels.names))
    probabilities = class_probabilities(fitted.model, vocab.encode(prepared.test_tokens, length))
    accuracy = classification_metrics(prepared.y_test, probabilities, prepared.labels.names)["accuracy"]
    print(f"fine-tuning: {time.perf_counter() - started:.0f}s; test accuracy {accuracy:.4f}")


if __name__ == "__main__":
    main()
