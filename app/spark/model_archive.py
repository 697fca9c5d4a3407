"""A saved run shipped to Spark's executors as an archive, and found again there.

    shipped = ship_model(spark, "models/<run>")     # or an archive: run.zip, hdfs:///models/run.tar.gz
    path = locate_model(shipped.name, shipped.bundle_sha256)   # on an executor: the unpacked run

The driver adds the run as an archive with ``SparkContext.addArchive``, the mechanism
behind spark-submit's ``--archives``: every executor (and the driver) fetches it once
and unpacks it under its SparkFiles directory. A run directory is zipped first; an
archive (.zip, .tar.gz, .tgz, .tar, local or on any file system Spark reads) is added
as it is. Each executor checks that the bundle.json it unpacked is the one the driver
read (SHA-256), and ``Classifier.load`` then checks every file against bundle.json.
"""

import atexit
import hashlib
import json
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from app.artifacts.run import SavedRun
from app.errors import BundleError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")


@dataclass(frozen=True)
class ShippedModel:
    """What the driver knows of a run it added as an archive."""

    name: str  # the archive's name in SparkFiles (the ``#name`` of --archives)
    bundle_sha256: str  # of the run's bundle.json, as the driver checked it
    labels: tuple[str, ...]  # the class names, in the order of the probabilities
    text_column: str  # the column the run was trained on
    has_onnx_export: bool


_shipped: dict[tuple[str, str], ShippedModel] = {}  # (application id, model) -> the archive added for it


def ship_model(spark: "SparkSession", model: str) -> ShippedModel:
    """Check the run ``model`` (a run directory or an archive of one) and add it to the
    Spark application as an archive, once per application.

    Raises BundleError naming the file when the run is incomplete or damaged."""
    context = spark.sparkContext
    key = (context.applicationId, model)
    if key not in _shipped:
        if Path(model).is_dir():
            run = _checked_run(Path(model))
            digest = _sha256(run.path / "bundle.json")
            name = f"kosent-run-{digest[:16]}"
            context.addArchive(f"{_zipped(run.path, name)}#{name}")
        elif model.lower().endswith(ARCHIVE_SUFFIXES):
            name = f"kosent-archive-{hashlib.sha256(model.encode()).hexdigest()[:16]}"
            context.addArchive(f"{model}#{name}")  # unpacked on the driver too: checked there first
            run = _checked_run(_run_directory(Path(_spark_files(name)), model))
            digest = _sha256(run.path / "bundle.json")
        else:
            raise BundleError(f"{model}: not a model directory nor an archive of one ({', '.join(ARCHIVE_SUFFIXES)})")
        _shipped[key] = ShippedModel(name, digest, tuple(run.labels.names), run.config.data.text_column,
                                     "onnx" in _bundle_exports(run.path))
    return _shipped[key]


def locate_model(name: str, bundle_sha256: str) -> Path:
    """The run directory the archive ``name`` unpacked to on this executor, its
    bundle.json checked against the driver's; raises BundleError when it differs."""
    path = _run_directory(Path(_spark_files(name)), name)
    found = _sha256(path / "bundle.json")
    if found != bundle_sha256:
        raise BundleError(f"{path / 'bundle.json'}: SHA-256 {found[:16]}... on this executor, not the {bundle_sha256[:16]}... "
                          f"the driver checked; the model archive changed while the job ran")
    return path


def _checked_run(path: Path) -> SavedRun:
    """The run at ``path`` with every file checked against bundle.json (no TensorFlow)."""
    run = SavedRun.load(path, workers=1, keras_model=False)
    run.tokenizer.close()
    return run


def _run_directory(root: Path, name: str) -> Path:
    """The run inside an unpacked archive: at its top, or in its one top-level folder."""
    if (root / "bundle.json").is_file():
        return root
    folders = [child for child in root.iterdir() if child.is_dir()] if root.is_dir() else []
    if len(folders) == 1 and (folders[0] / "bundle.json").is_file():
        return folders[0]
    raise BundleError(f"{name}: the archive holds no run (bundle.json at its top or in its one folder); "
                      f"make one with: cd models && zip -r <run>.zip <run>")


def _zipped(run: Path, name: str) -> Path:
    """``run`` zipped (its files at the archive's top) into a folder removed at exit."""
    folder = Path(tempfile.mkdtemp(prefix="kosent-spark-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    archive = folder / f"{name}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as handle:
        for file in sorted(run.rglob("*")):
            if file.is_file() and not file.name.startswith("."):  # not a partial bundle.json being replaced
                handle.write(file, PurePosixPath(*file.relative_to(run).parts))
    return archive


def _spark_files(name: str) -> str:
    from pyspark import SparkFiles

    return SparkFiles.get(name)


def _bundle_exports(path: Path) -> dict:
    return json.loads((path / "bundle.json").read_text(encoding="utf-8")).get("exports", {})


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
