"""spark_predict on a local Spark (local[2]): every input row comes out once, with its
own columns and predict.py's label, confidence, p_<class> and status, the same
probabilities within 1e-6; a missing text column is one clear error before any scoring.

One SparkSession for the module, and few Spark jobs: starting Spark and its Python
workers is most of this file's time.
"""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from app.errors import BundleError, DataError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SAMPLE = PROJECT_ROOT / "data" / "sample_binary.tsv"
NSMC_ROWS = PROJECT_ROOT / "data" / "nsmc-sample" / "ratings_train.tsv"  # bundled: in every clone
EDGE_COMMENTS = ["", "   ", "qxzv wkrb", "ㅹㅹ"]  # empty, only spaces, tokens the vocabulary lacks

pytestmark = pytest.mark.skipif(shutil.which("java") is None and not os.environ.get("JAVA_HOME")
                                and not os.environ.get("KOSENT_REQUIRE_JAVA"),
                                reason="no Java here (.ci/run installs it and sets KOSENT_REQUIRE_JAVA)")


@pytest.fixture(scope="module")
def spark(request):
    """One local[2] session for the module, started (JVM, first job, Python workers)
    while the tiny run trains: Spark's start-up is most of this file's time."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as background:
        starting = background.submit(started_spark)
        request.getfixturevalue("exported_tiny_run")
        session = starting.result()
    yield session
    session.stop()


def started_spark():
    from app.spark.session import start_session

    def import_scoring(batches):  # nested: Spark ships it by value (the workers cannot import this file)
        import app.spark.scoring  # noqa: F401  (what a worker imports first)

        yield from batches

    # the JVM's quick compiler only: short jobs, and on a busy machine its optimizing compiler costs seconds
    os.environ["PYSPARK_SUBMIT_ARGS"] = '--driver-java-options "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC" pyspark-shell'
    try:
        session = start_session("local[2]")
    finally:
        del os.environ["PYSPARK_SUBMIT_ARGS"]
    session.range(2).repartition(2).mapInPandas(import_scoring, "id long").collect()  # two workers, kept for the tests
    return session


def predict_py(*args):
    """predict.py's output for ``args`` (run in this process), as strings."""
    from app.cli.predict import main

    output = Path(args[-1])
    assert main(["--workers", "1", *args[:-1], "-o", str(output)]) == 0
    return pd.read_csv(output, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def read_output(path):
    return pd.read_parquet(path) if str(path).endswith(".parquet") else pd.concat(
        pd.read_csv(part, dtype=str, keep_default_na=False) for part in sorted(Path(path).glob("part-*.csv")))


def assert_same_predictions(spark_rows, expected, key, labels=("negative", "positive")):
    """Row for row (matched on ``key``): the same label, status and probabilities."""
    spark_rows = spark_rows.astype({key: str}).set_index(key).loc[expected[key]]
    predicted_label = expected.columns[list(expected.columns).index("confidence") - 1]  # label, or predicted_label
    assert spark_rows["status"].tolist() == expected["status"].tolist()
    assert spark_rows[predicted_label].fillna("").tolist() == expected[predicted_label].tolist()
    for column in ["confidence", *(f"p_{name}" for name in labels)]:
        found = pd.to_numeric(spark_rows[column], errors="coerce").to_numpy(dtype=float)
        wanted = pd.to_numeric(expected[column], errors="coerce").to_numpy(dtype=float)
        assert np.array_equal(np.isnan(found), np.isnan(wanted)), column
        assert np.nanmax(np.abs(found - wanted)) <= 1e-6, column


def test_the_sample_and_nsmc_rows_get_predict_pys_rows_and_probabilities(spark, exported_tiny_run, tmp_path):
    from app.spark.job import score_files

    sample = pd.read_csv(SAMPLE, sep="\t", dtype=str, keep_default_na=False)
    nsmc = pd.read_csv(NSMC_ROWS, sep="\t", dtype=str, keep_default_na=False, quoting=3, nrows=3000)
    edge = pd.DataFrame({"document": EDGE_COMMENTS, "label": "0"})
    comments = pd.concat([sample, nsmc, edge], ignore_index=True)[["document", "label"]]
    comments.insert(0, "id", [f"c{n}" for n in range(len(comments))])
    source = tmp_path / "comments.tsv"
    comments.to_csv(source, sep="\t", index=False, quoting=3)

    summary = score_files(spark, str(exported_tiny_run), [str(source)], str(tmp_path / "predictions.parquet"))

    expected = predict_py("--model", str(exported_tiny_run), "--runtime", "onnx", str(source), tmp_path / "predict.csv")
    found = read_output(tmp_path / "predictions.parquet")
    assert summary.runtime == "onnx" and summary.rows == len(comments) == len(found)
    assert list(found.columns) == list(expected.columns)  # id, document, label, predicted_label, ..., status
    assert sorted(found["id"]) == sorted(comments["id"])  # each row once
    assert_same_predictions(found, expected, "id")
    by_id = found.set_index("id").loc[comments["id"]]
    assert by_id["document"].fillna("").tolist() == comments["document"].tolist()  # Spark reads an empty field as null
    assert summary.status_counts == expected["status"].value_counts().to_dict()
    assert {"empty", "no_known_tokens"} <= set(summary.status_counts)


def test_null_missing_malformed_and_non_text_comments_keep_their_rows_and_an_id_is_added(spark, exported_tiny_run, tmp_path):
    """JSON Lines without an id, into CSV: every line comes back with predict.py's status
    (missing_text, malformed_record) or prediction (a number is scored as its digits)."""
    from app.spark.job import score_files

    records = [{"n": "0", "document": None}, {"n": "1", "document": 12345}, {"n": "2", "document": ""}, {"n": "3"},
               *({"n": str(n), "document": text} for n, text in enumerate(pd.read_csv(SAMPLE, sep="\t")["document"][:40], 4))]
    lines = [json.dumps(record, ensure_ascii=False) for record in records]
    lines.insert(3, "not json {")
    source = tmp_path / "comments.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")

    summary = score_files(spark, str(exported_tiny_run), [str(source)], str(tmp_path / "predictions.csv"))

    expected = predict_py("--model", str(exported_tiny_run), "--runtime", "onnx", str(source), tmp_path / "predict.csv")
    found = read_output(tmp_path / "predictions.csv")
    found = found.sort_values("id", key=lambda ids: ids.astype(int))  # one partition: the ids count the lines
    assert summary.rows == len(lines) == len(found) == len(expected)
    assert found.columns[0] == "id" and found["id"].is_unique  # added: the input has none
    assert set(found.columns) == {"id", "_corrupt_record", *expected.columns}  # the fields by name; the unparsed line
    assert found["status"].tolist()[:5] == ["missing_text", "no_known_tokens", "empty", "malformed_record", "missing_text"]
    found["position"] = expected["position"] = [str(n) for n in range(len(lines))]
    assert_same_predictions(found, expected, "position")


def test_a_missing_text_column_is_one_clear_error_and_writes_nothing(spark, exported_tiny_run, tmp_path):
    from app.spark.job import score_files

    source = tmp_path / "reviews.csv"
    source.write_text("id,review\n1,좋아요\n", encoding="utf-8")
    output = tmp_path / "predictions.parquet"
    with pytest.raises(DataError, match=r"reviews\.csv: no column 'document' \(it has: id, review\); name the column"):
        score_files(spark, str(exported_tiny_run), [str(source)], str(output))
    assert not output.exists() and [path.name for path in tmp_path.iterdir()] == ["reviews.csv"]
    with pytest.raises(DataError, match=r"output would overwrite an input"):
        score_files(spark, str(exported_tiny_run), [str(source)], str(source), text_column="review")


def test_an_executor_refuses_a_model_archive_that_is_not_the_run_the_driver_checked(spark, exported_tiny_run, tmp_path,
                                                                                      monkeypatch):
    import dataclasses

    from app.spark import job

    shipped = job.ship_model(spark, str(exported_tiny_run))
    monkeypatch.setattr(job, "ship_model", lambda *_: dataclasses.replace(shipped, bundle_sha256="0" * 64))
    output = tmp_path / "predictions.parquet"
    with pytest.raises(BundleError, match=r"^on a Spark worker: .*bundle\.json: SHA-256 \w+\.\.\. on this executor, not the 0000"):
        job.score_files(spark, str(exported_tiny_run), [str(SAMPLE)], str(output))
    assert not output.exists() and list(tmp_path.iterdir()) == []  # nor its hidden folder


def test_a_worker_loads_the_classifier_once_and_checks_the_archive_it_unpacked(spark, exported_tiny_run):
    """The driver unpacks the model archive too, so a worker's steps can be run here."""
    from app.spark.model_archive import locate_model, ship_model
    from app.spark.scoring import ScoringSettings, worker_classifier

    shipped = ship_model(spark, str(exported_tiny_run))
    assert ship_model(spark, str(exported_tiny_run)) is shipped  # added to the application once
    settings = ScoringSettings(shipped.name, shipped.bundle_sha256, "onnx", None, 1)
    assert worker_classifier(settings) is worker_classifier(settings)
    with pytest.raises(BundleError, match=r"bundle\.json: SHA-256 .* not the 000000"):
        locate_model(shipped.name, "0" * 64)


def test_the_onnx_export_is_scored_where_the_run_has_one_and_keras_otherwise(spark, tiny_run, exported_tiny_run):
    from app.spark.model_archive import ship_model
    from app.spark.scoring import ScoringSettings, resolve_runtime, worker_classifier

    plain, exported = ship_model(spark, str(tiny_run)), ship_model(spark, str(exported_tiny_run))
    assert (resolve_runtime(exported, None), resolve_runtime(plain, None), resolve_runtime(exported, "keras")) == \
        ("onnx", "keras", "keras")
    with pytest.raises(BundleError, match="no ONNX export"):
        resolve_runtime(plain, "onnx")
    keras_classifier = worker_classifier(ScoringSettings(plain.name, plain.bundle_sha256, "keras", None, 0))
    assert keras_classifier.runtime == "keras" and keras_classifier.run.model is not None
