"""Knowledge distillation: a teacher labels unlabeled comments with its probabilities,
and the saved model learns from those as well as from the labeled comments.

The teacher is the config's own model, trained first as train.py trains it, averaged
with a TF-IDF + logistic regression model fitted on the same training rows. The two
err on different comments, so their mean is more accurate than either (README:
"What each choice is worth"). The student, a fresh model of the same config, then
trains on the labeled comments and on the teacher's probabilities for the unlabeled
ones: a probability says how sure the teacher is, not only which class it picks.
Only the student is saved, so prediction still runs one recurrent model and the run
holds nothing but Keras weights and text files.

With a checkpoint directory (train.py) the teacher's probabilities are kept there
until the student is trained, so ``--resume`` does not train the teacher again.
"""

import dataclasses
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.errors import TrainingFailed

TEACHER_FILE = "teacher.npz"  # in the checkpoint directory, beside the student's epochs
STUDENT_DIR = "student"


@dataclass
class Teaching:
    tokens: list  # token lists of the unlabeled comments
    targets: np.ndarray  # the teacher's probability targets for them (see training.probability_targets)
    report: dict  # what the run's metrics.json says about the teacher


def tfidf_features():
    """Character 1-4 grams, across spaces too (Korean reviews are spaced loosely), and
    word 1-2 grams of space-separated words, single syllables included."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_union

    options = {"min_df": 2, "sublinear_tf": True, "dtype": np.float32}
    return make_union(
        TfidfVectorizer(analyzer="char", ngram_range=(1, 4), **options),
        TfidfVectorizer(analyzer="word", token_pattern=r"\S+", ngram_range=(1, 2), **options),
    )


def tfidf_classifier():
    """TF-IDF n-grams + scikit-learn's LogisticRegression (default C = 1): the baseline of
    bench/baselines.py and half of the teacher."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(tfidf_features(), LogisticRegression(max_iter=1000))


def teach(config, prepared, fit_rows, checkpoint_dir=None, resume=False):
    """Train the teacher on ``fit_rows`` and return its probabilities for the unlabeled
    comments of ``config.distill`` (None when NSMC's unlabeled file is missing: the
    student then trains as a plain model, as pretraining does without it)."""
    texts = _read_unlabeled(config)
    if texts is None:
        return None
    tokens = prepared.tokenizer.tokenize(texts, progress=True)
    prepared.tokenizer.close()
    saved = Path(checkpoint_dir) / TEACHER_FILE if checkpoint_dir else None
    if resume and saved and saved.exists():
        with np.load(saved, allow_pickle=False) as arrays:
            if len(arrays["targets"]) == len(tokens):
                print(f"teacher: its probabilities for {len(tokens):,} unlabeled comments read from {saved}")
                return Teaching(tokens, arrays["targets"], json.loads(str(arrays["report"])))

    from app.evaluate import classification_metrics
    from app.experiment import train_model
    from app.models import class_probabilities

    started = time.perf_counter()
    print(f"\n=== teacher: {config.name or config.model.cell} without distillation, then TF-IDF n-grams", flush=True)
    recurrent = train_model(dataclasses.replace(config, distill=type(config.distill)()), prepared)
    if recurrent is None:
        raise TrainingFailed("the teacher's training diverged (see above); nothing was saved")
    classes = len(prepared.labels.names)
    linear = tfidf_classifier().fit([prepared.texts[i] for i in fit_rows], prepared.y[fit_rows])
    print(f"TF-IDF + logistic regression fitted on {len(fit_rows):,} comments; scoring {len(texts):,} "
          f"unlabeled ones with both", flush=True)
    length, truncate = config.vocab.max_length, config.vocab.truncate
    unlabeled = (class_probabilities(recurrent.model, recurrent.vocab.encode(tokens, length, truncate))
                 + linear.predict_proba(texts)) / 2
    targets = (unlabeled[:, 1] if classes == 2 else unlabeled).astype("float32")

    accuracy = lambda probabilities: classification_metrics(  # noqa: E731
        prepared.y_test, probabilities, prepared.labels.names)["accuracy"]
    linear_test = linear.predict_proba(prepared.test_texts)
    report = {
        "unlabeled_comments": len(texts),
        "teacher_accuracy": accuracy((recurrent.test_probabilities + linear_test) / 2),
        "teacher_recurrent_accuracy": recurrent.metrics["accuracy"],
        "teacher_tfidf_accuracy": accuracy(linear_test),
        "teacher_seconds": round(time.perf_counter() - started, 2),
    }
    print(f"teacher: test accuracy {report['teacher_accuracy']:.4f} (recurrent {report['teacher_recurrent_accuracy']:.4f}, "
          f"TF-IDF {report['teacher_tfidf_accuracy']:.4f}) in {report['teacher_seconds']:.0f}s", flush=True)
    if saved:
        _save_atomically(saved, targets=targets, report=np.array(json.dumps(report)))
    return Teaching(tokens, targets, report)


def student_checkpoint(checkpoint_dir):
    """Where the student's epochs are checkpointed: beside the teacher's probabilities."""
    return Path(checkpoint_dir) / STUDENT_DIR if checkpoint_dir else None


def finish(checkpoint_dir):
    """The student is trained: the teacher's probabilities are no longer needed."""
    if checkpoint_dir:
        shutil.rmtree(checkpoint_dir, ignore_errors=True)
        try:
            Path(checkpoint_dir).parent.rmdir()  # only when no other checkpoint is in it
        except OSError:
            pass


def _read_unlabeled(config):
    from app.pretrain import read_unlabeled_if_there

    # all of them: max_rows takes a random part below, not the file's first rows
    texts, source = read_unlabeled_if_there(dataclasses.replace(config.distill, max_rows=None), config.data, "distill",
                                            without="training without distillation")
    if texts is None:
        return None
    if config.distill.max_rows and len(texts) > config.distill.max_rows:
        rows = np.random.default_rng(config.train.seed).permutation(len(texts))[:config.distill.max_rows]
        texts = [texts[i] for i in np.sort(rows)]
    print(f"distillation: {len(texts):,} unlabeled comments from {source}")
    return texts


def _save_atomically(path, **arrays):
    partial = path.with_name(path.name + ".partial.npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(partial, **arrays)
    os.replace(partial, path)
