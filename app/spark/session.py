"""The SparkSession spark_predict.py runs in: the cluster spark-submit configured, or
a local one (``local[2]``) when nothing names a master.

    spark = start_session()          # under spark-submit: its --master and --conf
    spark = start_session("local[4]")
"""

import os
import shutil
import sys
import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

LOCAL_MASTER = "local[2]"


class SparkNotStarted(RuntimeError):
    """Spark could not start (no Java, or the JVM exited); the message says what to install."""


def start_session(master: str | None = None, app_name: str = "kosent spark_predict") -> "SparkSession":
    """A SparkSession on ``master``, else (under spark-submit) on the master spark-submit
    was given, else on local[2]. A local one listens on 127.0.0.1 only, without its web
    UI unless configured, and its Python workers run this interpreter."""
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        raise SparkNotStarted("Spark needs Java 17 or 21 and there is no `java` on PATH nor JAVA_HOME; "
                              "install one (e.g. apt-get install default-jre-headless)")
    from pyspark import SparkConf, SparkContext
    from pyspark.errors import PySparkRuntimeError
    from pyspark.sql import SparkSession

    # pyspark 4.3 warns that pandas 3 is not fully supported; the tests check the path used here with it
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
    under_spark_submit = "PYSPARK_GATEWAY_PORT" in os.environ  # spark-submit started the JVM, then this Python
    try:
        SparkContext._ensure_initialized()  # the JVM: spark-submit's, or one started now
    except PySparkRuntimeError as error:
        raise SparkNotStarted(f"Spark's JVM did not start ({' '.join(str(error).split())[:300]})") from None
    configured = SparkConf()  # spark-submit's --master and --conf, spark-defaults.conf
    builder = SparkSession.builder.appName(app_name)
    # plain python: the JVM started here defaults to local[*], every core; local[2] unless told
    master = master or (configured.get("spark.master", None) if under_spark_submit else None) or LOCAL_MASTER
    builder = builder.master(master)
    if master.startswith("local"):
        builder = builder.config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
        if not configured.contains("spark.ui.enabled"):
            builder = builder.config("spark.ui.enabled", "false")
        if not (os.environ.get("PYSPARK_PYTHON") or configured.contains("spark.pyspark.python")):
            os.environ["PYSPARK_PYTHON"] = sys.executable  # the workers: this venv, not the first python3 on PATH
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")  # spark-submit's default is INFO: a screenful a stage
    return spark
