"""Training on several workers with tf.distribute.MultiWorkerMirroredStrategy.

Every worker runs the same ``train.py --distributed`` command with its own TF_CONFIG:

    TF_CONFIG='{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}'

Each worker reads and tokenizes the training data itself (the vocabulary counts every
training comment), takes its share of every batch (``train.batch_size`` is the global
batch), and the gradients are summed across workers at each step. Worker 0 is the
chief: it alone writes the epoch checkpoints and the run; the others write nothing.

The cluster is read and checked here with the standard library only, so a malformed
TF_CONFIG fails before TensorFlow loads; the functions that need TensorFlow import it.
"""

import contextlib
import json
import logging
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from app.errors import ConfigError, TrainingFailed

log = logging.getLogger(__name__)

TF_CONFIG_EXAMPLE = '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}'


@dataclass(frozen=True)
class Cluster:
    """The workers TF_CONFIG lists (``host:port`` each) and which one this process is."""

    workers: tuple[str, ...]
    index: int

    @property
    def chief(self) -> bool:
        """Worker 0: the one that writes checkpoints and the run."""
        return self.index == 0

    def __str__(self) -> str:
        return f"worker {self.index} of {len(self.workers)}"


def read_cluster(tf_config: str | None) -> Cluster:
    """The cluster a TF_CONFIG value describes; raises ConfigError naming the key that is wrong."""
    if not tf_config or not tf_config.strip():
        raise ConfigError(f"--distributed needs the TF_CONFIG environment variable, e.g. TF_CONFIG='{TF_CONFIG_EXAMPLE}'")
    try:
        spec = json.loads(tf_config)
    except json.JSONDecodeError as error:
        raise ConfigError(f"TF_CONFIG: not valid JSON ({error}); expected e.g. {TF_CONFIG_EXAMPLE}") from None
    spec = _mapping(spec, "TF_CONFIG", "an object with cluster and task")
    cluster = _mapping(spec.get("cluster"), "TF_CONFIG: cluster", 'an object like {"worker": ["host1:12345", ...]}')
    task = _mapping(spec.get("task"), "TF_CONFIG: task", 'an object like {"type": "worker", "index": 0}')
    others = sorted(set(cluster) - {"worker"})
    if others:
        raise ConfigError(f"TF_CONFIG: cluster.{others[0]}: only worker tasks are supported (the first worker is "
                          f"the chief); list every machine under cluster.worker")
    workers = cluster.get("worker")
    if not isinstance(workers, list) or not workers:
        raise ConfigError(f"TF_CONFIG: cluster.worker: expected a list of host:port addresses, not {workers!r}")
    for position, address in enumerate(workers):
        _check_address(address, f"TF_CONFIG: cluster.worker[{position}]")
        if address in workers[:position]:
            raise ConfigError(f"TF_CONFIG: cluster.worker[{position}]: {address!r} is listed twice")
    if task.get("type") != "worker":
        raise ConfigError(f"TF_CONFIG: task.type: expected \"worker\", not {task.get('type')!r}")
    index = task.get("index")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(workers):
        raise ConfigError(f"TF_CONFIG: task.index: expected a worker's position in cluster.worker "
                          f"(0 to {len(workers) - 1}), not {index!r}")
    return Cluster(tuple(workers), index)


def local_tf_configs(workers: int) -> list[str]:
    """TF_CONFIG values for ``workers`` processes on this machine (127.0.0.1, ports that
    are free now), one for each task index: for tests, benchmarks and a first try."""
    sockets = [socket.socket() for _ in range(workers)]
    try:
        for each in sockets:  # all held open together, so no port is handed out twice
            each.bind(("127.0.0.1", 0))
        addresses = [f"127.0.0.1:{each.getsockname()[1]}" for each in sockets]
    finally:
        for each in sockets:
            each.close()
    return [json.dumps({"cluster": {"worker": addresses}, "task": {"type": "worker", "index": index}})
            for index in range(workers)]


def _mapping(value: Any, where: str, expected: str) -> dict:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected {expected}, not {json.dumps(value)[:80]}")
    return value


def _check_address(address: Any, where: str) -> None:
    host, _, port = address.rpartition(":") if isinstance(address, str) else ("", "", "")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{where}: expected host:port (a port from 1 to 65535), not {address!r}")


def check_distributable(config: Any, cluster: Cluster) -> None:
    """Refuse, before any work, what training across ``cluster`` cannot do."""
    if config.distill.unlabeled:
        raise ConfigError("distill.unlabeled: --distributed trains one model, not a teacher and then a student; "
                          "set distill.unlabeled: null or train without --distributed")
    if config.train.batch_size < len(cluster.workers):
        raise ConfigError(f"train.batch_size: {config.train.batch_size} is smaller than the {len(cluster.workers)} "
                          f"workers; it is the global batch, each worker takes a share of it")


def start(cluster: Cluster) -> Any:
    """The tf.distribute.MultiWorkerMirroredStrategy of TF_CONFIG's cluster. Made before
    TensorFlow runs anything else (the strategy must be), it waits until every worker
    has started."""
    import tensorflow as tf

    log.info(f"{cluster}: waiting for every worker of {', '.join(cluster.workers)}", extra={"progress": True})
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    log.info(f"{cluster}: the cluster is up; the global batch is split across {strategy.num_replicas_in_sync} replicas",
             extra={"progress": True})
    return strategy


def scope(strategy: Any) -> contextlib.AbstractContextManager:
    """``strategy.scope()`` (nothing without a strategy): models built and compiled in it
    have their variables on every worker."""
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


@contextlib.contextmanager
def training(strategy: Any) -> Iterator[None]:
    """``scope(strategy)``, where a worker that stopped (killed, crashed) ends training on
    the others with one line: TensorFlow's health check aborts their collective operations."""
    if strategy is None:
        yield
        return
    import tensorflow as tf

    try:
        with strategy.scope():
            yield
    except (tf.errors.UnavailableError, tf.errors.CancelledError, tf.errors.DeadlineExceededError) as error:
        # the message names tasks (this one's device among them); the others are the ones gone
        named = {int(task) for task in re.findall(r"/job:worker/(?:replica:\d+/)?task:(\d+)", str(error))}
        gone = sorted(named - {strategy.cluster_resolver.task_id})
        who = f"worker {', '.join(map(str, gone))}" if gone else "a worker"
        raise TrainingFailed(f"{who} of the cluster stopped; start every worker again with --resume to continue "
                             "from the last completed epoch") from None


def sharded(dataset: Any) -> Any:
    """``dataset`` split across the workers element by element (each element a global batch,
    which tf.distribute cuts into one share per worker): the arrays it comes from are in
    every worker's memory, there are no files to split."""
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def check_agreement(strategy: Any, values: dict[str, int]) -> None:
    """Raise ConfigError, on every worker at once, when the workers' ``values`` differ:
    workers that disagree on the number of batches would wait for each other forever."""
    import tensorflow as tf

    mine = tf.constant([list(values.values())], dtype=tf.int64)
    everyone = strategy.gather(strategy.run(lambda: tf.identity(mine)), axis=0).numpy()
    for column, name in enumerate(values):
        found = everyone[:, column]
        if (found != found[0]).any():
            raise ConfigError(f"the workers disagree on {name}: " + ", ".join(
                f"worker {i} has {v:,}" for i, v in enumerate(found)) + " (every worker needs the same config, data "
                "and, with --resume, the same checkpoint under --models-dir)")


def prepare_model(model: Any, strategy: Any) -> None:
    """Make a compiled model ``fit`` under ``strategy``: the chief's weights on every worker, and
    two workarounds for Keras 3.15 (keras-team/keras#20585, MultiWorkerMirroredStrategy in fit).

    Weights a worker set itself (pretrained word vectors: gensim's threads make them differ
    a little between workers) are replaced by the chief's. Keras's fit calls
    ``strategy.reduce`` on the first batch to build the model, which fails for a tuple of
    per-replica tensors; the optimizer is built here instead, and the model forgets the
    strategy it was made in (fit runs inside its scope, so Keras still finds it). Keras
    also averages each step's metrics with ``strategy.reduce(axis=0)``, which fails for
    scalars; a metric's variables are summed across workers as they update, so the
    first replica's values are already everyone's, and the step functions return those.
    """
    import tensorflow as tf

    with strategy.scope():
        model.optimizer.build(model.trainable_variables)
    chief = strategy.cluster_resolver.task_id == 0
    for variable in model.trainable_variables:
        value = variable.value if chief else tf.zeros_like(variable.value)
        variable.assign(strategy.reduce("SUM", strategy.run(lambda v=value: tf.identity(v)), axis=None))
    model._distribute_strategy = None
    model.train_function = _on_first_replica(model.train_step, strategy)
    model.test_function = _on_first_replica(model.test_step, strategy)


def _on_first_replica(step: Any, strategy: Any) -> Any:
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def function(iterator):
        outputs = strategy.run(step, args=(next(iterator),))
        return tf.nest.map_structure(lambda value: strategy.experimental_local_results(value)[0], outputs)
    return function
