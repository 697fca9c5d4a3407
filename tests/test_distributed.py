"""train.py --distributed: two worker processes on 127.0.0.1 train tests/tiny.yaml
under tf.distribute.MultiWorkerMirroredStrategy. The job is killed after a completed
epoch and started again with --resume; it ends with one run, saved by the chief, that
predict.py's Classifier loads. A malformed TF_CONFIG, and what cannot be distributed,
fail in a moment with one line."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.errors import ConfigError
from app.training.distributed import check_distributable, local_tf_configs, read_cluster
from tests.conftest import PROJECT_ROOT

EPOCHS = 2
TINY = ["--config", "tests/tiny.yaml", "--set", f"train.epochs={EPOCHS}", "--set", "model.units=8",
        "--set", "model.embedding_dim=8", "--name", "tiny"]


def start_job(models_dir, *flags):
    """The same train.py command on two workers, each with its own TF_CONFIG."""
    return [subprocess.Popen([sys.executable, "train.py", *TINY, "--models-dir", str(models_dir), "--distributed",
                              *flags], cwd=PROJECT_ROOT, env=dict(os.environ, TF_CONFIG=tf_config),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for tf_config in local_tf_configs(2)]


def wait_for_checkpoint(models_dir, processes, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [p.parent for p in Path(models_dir).glob(".checkpoints/*/state.json")
                 if not p.parent.name.startswith(".")]  # not one being written
        if found:
            return found[0]
        if any(p.poll() is not None for p in processes):
            pytest.fail("a worker ended before its first checkpoint:\n" + processes[0].communicate()[0])
        time.sleep(0.05)
    pytest.fail("no checkpoint within the timeout")


@pytest.fixture(scope="module")
def killed_and_resumed(tmp_path_factory):
    """(state of the checkpoint the killed job left, the resumed workers' outputs, models dir)."""
    models = tmp_path_factory.mktemp("distributed") / "models"  # shared by the workers, as on a cluster's disk
    job = start_job(models)
    try:
        checkpoint = wait_for_checkpoint(models, job)
        for worker in reversed(job):  # worker 1 first; then the job is stopped
            worker.send_signal(signal.SIGKILL)
    finally:
        for worker in job:
            worker.kill()
            worker.communicate()
    state = json.loads((checkpoint / "state.json").read_text(encoding="utf-8"))
    resumed = start_job(models, "--resume")
    outputs = []
    for worker in resumed:
        try:
            outputs.append(worker.communicate(timeout=150)[0])
        finally:
            worker.kill()
    assert [w.returncode for w in resumed] == [0, 0], "\n".join(outputs)
    return state, outputs, models


def test_two_workers_train_one_run_the_chief_alone_saves_and_predict_loads(killed_and_resumed):
    from app.inference.classifier import Classifier

    _, (chief, worker), models = killed_and_resumed
    assert sorted(p.name for p in models.iterdir()) == ["tiny"]  # no second run, no checkpoint left
    assert f"saved {models / 'tiny'}" in chief
    assert "worker 1 of 2: training done; worker 0, the chief, saves the run" in worker
    assert "saved" not in worker
    with Classifier.load(models / "tiny") as classifier:
        predictions = classifier.predict(["배우들 연기가 정말 좋았어요", "최악의 영화, 시간 낭비"])
    assert [p.label in ("negative", "positive") for p in predictions] == [True, True]
    metrics = json.loads((models / "tiny" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["epochs_run"] == EPOCHS and 0 <= metrics["accuracy"] <= 1


def test_a_killed_job_restarted_with_resume_continues_from_its_last_completed_epoch(killed_and_resumed):
    state, (chief, worker), models = killed_and_resumed
    done = state["epochs_done"]
    assert 1 <= done < EPOCHS, "the job was killed after its last epoch; nothing was left to resume"
    for output in (chief, worker):
        assert "resuming from the checkpoint" in output
        assert f"Epoch {done + 1}/{EPOCHS}" in output and "Epoch 1/" not in output
    history = (models / "tiny" / "history.csv").read_text(encoding="utf-8").splitlines()
    assert len(history) == 1 + EPOCHS
    losses = [float(row.split(",")[history[0].split(",").index("loss")]) for row in history[1:]]
    assert losses[:done] == pytest.approx(state["history"]["loss"], abs=1e-6)


@pytest.mark.parametrize("tf_config, names", [
    (None, "TF_CONFIG environment variable"),
    ("{cluster: 1}", "TF_CONFIG: not valid JSON"),
    ('{"task": {"type": "worker", "index": 0}}', "TF_CONFIG: cluster: expected an object"),
    ('{"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1"]}, "task": {"type": "worker", "index": 0}}',
     "TF_CONFIG: cluster.worker[1]: expected host:port"),
    ('{"cluster": {"worker": ["a:1", "a:1"]}, "task": {"type": "worker", "index": 0}}',
     "TF_CONFIG: cluster.worker[1]: 'a:1' is listed twice"),
    ('{"cluster": {"worker": ["a:1"], "ps": ["b:2"]}, "task": {"type": "worker", "index": 0}}',
     "TF_CONFIG: cluster.ps: only worker tasks"),
    ('{"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "chief", "index": 0}}',
     "TF_CONFIG: task.type: expected \"worker\", not 'chief'"),
    ('{"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 2}}',
     "TF_CONFIG: task.index: expected a worker's position in cluster.worker (0 to 1), not 2"),
    ('{"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": true}}', "TF_CONFIG: task.index"),
])
def test_a_malformed_tf_config_is_one_line_naming_its_key(tf_config, names):
    with pytest.raises(ConfigError) as error:
        read_cluster(tf_config)
    assert names in str(error.value) and "\n" not in str(error.value)


def test_train_py_refuses_a_malformed_tf_config_before_tensorflow_loads():
    env = dict(os.environ, TF_CONFIG='{"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker"}}')
    started = time.monotonic()
    result = subprocess.run([sys.executable, "train.py", *TINY, "--distributed"], cwd=PROJECT_ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: TF_CONFIG: task.index: expected a worker's position in cluster.worker (0 to 0), not None"]
    assert time.monotonic() - started < 8  # no TensorFlow import (~9 s here)


def test_what_training_across_workers_cannot_do_is_refused_naming_its_key(tiny_config):
    import dataclasses

    two = read_cluster('{"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 1}}')
    check_distributable(tiny_config, two)
    distilling = dataclasses.replace(tiny_config, distill=dataclasses.replace(tiny_config.distill, unlabeled="x.txt"))
    with pytest.raises(ConfigError, match=r"^distill.unlabeled: --distributed trains one model"):
        check_distributable(distilling, two)
    one_comment = dataclasses.replace(tiny_config, train=dataclasses.replace(tiny_config.train, batch_size=1))
    with pytest.raises(ConfigError, match=r"^train.batch_size: 1 is smaller than the 2 workers"):
        check_distributable(one_comment, two)
