"""Knowledge distillation: a teacher labels unlabeled comments with its probabilities,
and the saved model learns from those as well as from the labeled comments.

The teacher is the config's own model (with ``teacher_layers``, of that many layers),
trained first as train.py trains it, averaged
with a naive-Bayes-scaled n-gram logistic regression (NBSVM, app/ngrams.py) fitted on
the same training rows. The two err on different comments, so their mean is more
accurate than either (docs/experiments.md: "What each choice is worth"). The mean is
even, or weighted by ``teacher_mix``, or (null) weighted as the validation rows' log
loss says: on a few thousand rows the n-grams are much the better half
(docs/own_data.md). The student, the config's model, then trains on the
labeled comments and on the teacher's probabilities for the unlabeled ones: a
probability says how sure the teacher is, not only which class it picks. With
``teacher_layers`` the teacher stacks more recurrent layers than the student, which
predicts faster for it. With
``unlabeled_vocabulary`` its vocabulary counts the unlabeled comments too. With
``warm_start`` the student starts from the teacher's recurrent weights (a token the
teacher did not know starts as its OOV vector; a shallower student takes the teacher's
first layers, and its output layer starts afresh) rather than afresh from the word
vectors. Only the student is saved, so
prediction still runs one recurrent model and the run holds nothing but Keras
weights and text files.

With a checkpoint directory (train.py) the teacher's epochs are checkpointed in
``teacher/``, then its probabilities and weights in ``teacher.npz`` (with a digest of
the comments they belong to) until the student, checkpointed in ``student/``, is
trained: ``--resume`` goes on from whichever was interrupted.
"""

import dataclasses
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from app.errors import DataError
from app.files import atomic_file
from app.text.vocab import OOV, Vocabulary

if TYPE_CHECKING:
    from app.config.schema import Config

log = logging.getLogger(__name__)

TEACHER_FILE = "teacher.npz"  # in the checkpoint directory: the teacher's probabilities and weights
TEACHER_DIR, STUDENT_DIR = "teacher", "student"  # in the checkpoint directory: each one's epochs


@dataclass
class Teaching:
    """What the teacher hands the student: its probabilities for the unlabeled comments and its weights."""

    tokens: list  # token lists of the unlabeled comments
    targets: np.ndarray  # the teacher's probability targets for them (see app.modeling.losses.probability_targets)
    report: dict  # what the run's metrics.json says about the teacher
    weights: dict[str, np.ndarray]  # the teacher's recurrent model's, by layer_weights: the student may start from them
    vocab: Vocabulary  # the teacher's: the student's may be larger (distill.unlabeled_vocabulary)


def teach(config: "Config", prepared: Any, rows: tuple[np.ndarray, np.ndarray], train_model: Callable[..., Any],
          checkpoint_dir: str | os.PathLike | None = None, resume: bool = False) -> Teaching | None:
    """Train the teacher on ``rows`` (training, validation): a Teaching with its probabilities for the
    unlabeled comments of ``config.distill`` and its recurrent weights (None when NSMC's
    unlabeled file is missing: the student then trains as a plain model, as
    pretraining does without it). ``train_model`` trains the teacher's recurrent half
    (app.training.run.train_model, which calls this); TrainingDiverged comes from it."""
    from app.training.fit import remove_checkpoint

    texts = _read_unlabeled(config)
    if texts is None:
        return None
    tokens = prepared.tokenizer.tokenize(texts, progress=True)
    prepared.tokenizer.log_last_run("unlabeled")
    prepared.tokenizer.close()
    fit_rows = rows[0]
    # the labeled rows too: the teacher's vocabulary and weights come from them
    digest = _digest(texts, [prepared.texts[i] for i in fit_rows], prepared.y[fit_rows],
                     f"mix {config.distill.teacher_mix}, layers {_teacher_model(config).layers}, "
                     f"seeds {config.distill.teacher_seeds}")
    saved = Path(checkpoint_dir) / TEACHER_FILE if checkpoint_dir else None
    if resume and saved and saved.exists():
        with np.load(saved, allow_pickle=False) as arrays:
            if str(arrays["digest"]) == digest and "weight_paths" in arrays.files:
                log.info(f"teacher: its probabilities for {len(tokens):,} unlabeled comments read from {saved}")
                weights = {path: arrays[f"weight_{i}"] for i, path in enumerate(arrays["weight_paths"].tolist())}
                return Teaching(tokens, arrays["targets"], json.loads(str(arrays["report"])), weights,
                                Vocabulary(arrays["vocab_tokens"].tolist()))
        log.info(f"note: {saved} is another teacher's (other comments, or an older version); "
              f"training the teacher and the student again")
        remove_checkpoint(student_checkpoint(checkpoint_dir))  # it learned from that teacher
    teaching = _train_teacher(config, prepared, rows, texts, tokens, train_model, checkpoint_dir, resume)
    if saved:
        _save_atomically(saved, targets=teaching.targets, report=np.array(json.dumps(teaching.report)),
                         digest=np.array(digest), weight_paths=np.array(list(teaching.weights)),
                         vocab_tokens=np.array(teaching.vocab.tokens),
                         **{f"weight_{i}": w for i, w in enumerate(teaching.weights.values())})
    return teaching


def _train_teacher(config, prepared, rows, texts, tokens, train_model, checkpoint_dir, resume):
    """Train the teacher and score ``texts``: a Teaching."""
    from app.evaluation.metrics import classification_metrics
    from app.modeling.network import class_probabilities
    from app.training.ngrams import naive_bayes_classifier

    started, (fit_rows, val_rows) = time.perf_counter(), rows
    # the n-gram half first: the recurrent half's checkpoint is gone once it finishes,
    # so the work after it, which a Ctrl-C would lose, should be short
    teacher_model = _teacher_model(config)
    log.info(f"\n=== teacher: naive-Bayes n-grams, then {config.name or config.model.cell} without distillation"
             f"{f', {teacher_model.layers} layers' if teacher_model != config.model else ''}")
    linear = naive_bayes_classifier().fit([prepared.texts[i] for i in fit_rows], prepared.y[fit_rows])
    linear_unlabeled, linear_test = linear.predict_proba(texts), linear.predict_proba(prepared.test_texts)
    log.info(f"naive-Bayes n-grams + logistic regression fitted on {len(fit_rows):,} comments and run on "
          f"{len(texts):,} unlabeled ones")
    members = _train_recurrent_members(config, prepared, rows, teacher_model, train_model, checkpoint_dir, resume)
    length, truncate = config.vocab.max_length, config.vocab.truncate

    def recurrent_probabilities(token_lists):
        return np.mean([class_probabilities(member.model, member.vocab.encode(token_lists, length, truncate))
                        for member in members], axis=0)

    share = config.distill.teacher_mix
    if share is None:
        share = _mix_on_validation(prepared, val_rows, linear, recurrent_probabilities)
    unlabeled = share * recurrent_probabilities(tokens) + (1 - share) * linear_unlabeled
    targets = (unlabeled[:, 1] if len(prepared.labels.names) == 2 else unlabeled).astype("float32")

    recurrent_test = np.mean([member.test_probabilities for member in members], axis=0)

    def accuracy(probabilities: np.ndarray) -> float:
        """Test-set accuracy of ``probabilities``."""
        return classification_metrics(prepared.y_test, probabilities, prepared.labels.names)["accuracy"]

    report = {
        "unlabeled_comments": len(texts),
        "teacher_accuracy": accuracy(share * recurrent_test + (1 - share) * linear_test),
        "teacher_recurrent_share": share,
        "teacher_recurrent_accuracy": accuracy(recurrent_test),
        "teacher_recurrent_models": len(members),
        "teacher_ngram_accuracy": accuracy(linear_test),
        "teacher_seconds": round(time.perf_counter() - started, 2),  # this session's part, after a resume
    }
    log.info(f"teacher: test accuracy {report['teacher_accuracy']:.4f} (recurrent {report['teacher_recurrent_accuracy']:.4f}, "
          f"n-grams {report['teacher_ngram_accuracy']:.4f}; the recurrent half's share {share:.1f}) "
          f"in {report['teacher_seconds']:.0f}s")
    # the student starts from the first model: one network's weights, not a mean of unrelated ones
    return Teaching(tokens, targets, report, layer_weights(members[0].model), members[0].vocab)


def _train_recurrent_members(config, prepared, rows, teacher_model, train_model, checkpoint_dir, resume):
    """The teacher's recurrent models, one per seed of distill.teacher_seeds, all fitted
    and validated on ``rows``, the n-gram half's and the mix's."""
    members = []
    for k in range(config.distill.teacher_seeds):
        seed = config.train.seed + k
        member_config = dataclasses.replace(config, model=teacher_model, distill=type(config.distill)(),
                                            train=dataclasses.replace(config.train, seed=seed))
        if config.distill.teacher_seeds > 1:
            log.info(f"teacher: recurrent model {k + 1} of {config.distill.teacher_seeds} (seed {seed})")
        # each finished model's checkpoint is removed, so a resume trains again those not yet in teacher.npz
        directory = TEACHER_DIR if k == 0 else f"{TEACHER_DIR}_{k + 1}"
        members.append(train_model(member_config, prepared, checkpoint_dir=Path(checkpoint_dir) / directory
                                   if checkpoint_dir else None, resume=resume, rows=rows))
    return members


def _teacher_model(config: "Config") -> Any:
    """The teacher's ModelConfig: the config's, with distill.teacher_layers when set."""
    return dataclasses.replace(config.model, layers=config.distill.teacher_layers or config.model.layers)


MIX_MIN_ROWS = 10  # validation rows per class below which teacher_mix: null keeps the even mean


def _mix_on_validation(prepared, rows, linear, recurrent_probabilities):
    """The recurrent half's share, 0, 0.1, ... 1, whose mean has the least log loss on
    the labeled rows neither half was fitted on (the recurrent half's early stopping
    watched them, which flatters it a little); 0.5 when some class has fewer than
    MIX_MIN_ROWS of them."""
    from sklearn.metrics import log_loss

    per_class = np.bincount(prepared.y[rows], minlength=len(prepared.labels.names))
    if per_class.min() < MIX_MIN_ROWS:
        log.warning(f"teacher: {per_class.min()} validation rows of a class are too few to choose the mix "
                    f"(distill.teacher_mix: null); the recurrent half's share is 0.5")
        return 0.5
    recurrent = recurrent_probabilities([prepared.tokens[i] for i in rows]).astype("float64")
    linear_rows = linear.predict_proba([prepared.texts[i] for i in rows]).astype("float64")
    recurrent /= recurrent.sum(axis=1, keepdims=True)  # a float32 softmax sums to 1 only within 1e-7: log_loss warns
    shares = np.round(np.linspace(0, 1, 11), 1)
    losses = [log_loss(prepared.y[rows], s * recurrent + (1 - s) * linear_rows, labels=range(recurrent.shape[1]))
              for s in shares]
    best = float(shares[int(np.argmin(losses))])
    log.info(f"teacher: the recurrent half's share {best:.1f} has the least validation log loss "
             f"({min(losses):.4f}; 0.5 gives {losses[5]:.4f})")
    return best


def layer_weights(model: Any) -> dict[str, np.ndarray]:
    """A model's weights keyed by layer name and position in the layer: unlike a
    Bidirectional layer's variable paths, these stay the same when the model is saved
    and loaded again (as a resumed teacher is)."""
    return {name: weight for layer in model.layers for name, weight in zip(_weight_names(layer), layer.get_weights())}


def _weight_names(layer: Any) -> list[str]:
    """The keys of ``layer``'s weights in layer_weights."""
    return [f"{layer.name}/{i}" for i in range(len(layer.weights))]


def warm_start(model: Any, teaching: Teaching, vocab: Vocabulary) -> list[str]:
    """Give ``model`` (the student, over ``vocab``) the teacher's weights; the names of
    the layers that took them. A token the teacher's vocabulary lacks starts as the
    teacher's OOV vector, so the student begins reading comments much as the teacher
    did (a token of the teacher's that the larger count pushed out of vocab.max_size is
    OOV to the student). A shallower student takes the teacher's first layers; its head
    and output layer, which would read another layer's states than the teacher's did,
    keep their fresh start."""
    teacher = teaching.weights
    names = {layer.name: _weight_names(layer) for layer in model.layers}
    same_network = sorted(teacher) == sorted(name for layer_names in names.values() for name in layer_names)
    oov = teaching.vocab.index[OOV]
    started = []
    for layer in model.layers:
        layer_names = names[layer.name]
        if not layer_names or not all(name in teacher for name in layer_names) or (
                not same_network and layer.name in ("head", "output")):
            continue
        weights = [teacher[name] for name in layer_names]
        if layer.name == "embedding":
            weights[0] = weights[0][[teaching.vocab.index.get(t, oov) for t in vocab.tokens]]
        layer.set_weights(weights)
        started.append(layer.name)
    return started


def student_checkpoint(checkpoint_dir: str | os.PathLike | None) -> Path | None:
    """Where the student's epochs are checkpointed: beside the teacher's probabilities."""
    return Path(checkpoint_dir) / STUDENT_DIR if checkpoint_dir else None


def _read_unlabeled(config):
    from app.training.pretrain import read_unlabeled_if_there

    # all of them: max_rows takes a random part below, not the file's first rows
    texts, source = read_unlabeled_if_there(dataclasses.replace(config.distill, max_rows=None), config.data, "distill",
                                            without="training without distillation")
    if texts is None:
        return None
    if not texts:
        raise DataError(f"{source}: no comments to distil on (distill.unlabeled); every row is empty")
    if config.distill.max_rows and len(texts) > config.distill.max_rows:
        rows = np.random.default_rng(config.train.seed).permutation(len(texts))[:config.distill.max_rows]
        texts = [texts[i] for i in np.sort(rows)]
    log.info(f"distillation: {len(texts):,} unlabeled comments from {source}")
    return texts


def _digest(unlabeled, labeled, labels, teacher_settings):
    digest = hashlib.sha256()
    digest.update(f"{len(unlabeled)} unlabeled, {len(labeled)} labeled, {teacher_settings}\n".encode())
    for text in [*unlabeled, *labeled]:
        digest.update(text.encode("utf-8", "surrogatepass") + b"\n")
    digest.update(np.ascontiguousarray(labels, dtype=np.int64).tobytes())
    return digest.hexdigest()


def _save_atomically(path, **arrays):
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path, binary=True) as handle:
        np.savez(handle, **arrays)
