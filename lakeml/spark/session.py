"""A Delta-enabled Spark session, and where lakeml's tables are for Spark."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from lakeml.errors import InvalidArgument, InvalidState
from lakeml.spark import jars

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from lakeml.store.store import Store

# Settings a lakeml session starts with; anything passed to session(conf=…) wins.
DEFAULTS: dict[str, str] = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    # Delta timestamps are UTC instants; showing them in UTC keeps Spark's and
    # DuckDB's answers the same to the microsecond.
    "spark.sql.session.timeZone": "UTC",
    # Microsecond timestamps (not INT96) in the Parquet files Spark writes, as lakeml writes.
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.shuffle.partitions": "8",
    # VACUUM lists files in this many tasks (default 10,000: 40 s of overhead locally).
    "spark.sql.sources.parallelPartitionDiscovery.parallelism": "8",
    "spark.ui.enabled": "false",
    # A local session talks over loopback only.
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.ui.showConsoleProgress": "false",
}


def session(app_name: str = "lakeml", *, master: str | None = None,
            conf: dict[str, str] | None = None) -> SparkSession:
    """The active Spark session if there is one (its configuration untouched), else a new
    local session with Delta Lake enabled.

    The Delta jars come from :func:`lakeml.spark.jars.local_jars` when fetched
    (``make setup`` or ``lakeml spark-jars``), else Spark resolves
    them from Maven Central at start. With the s3a jars fetched too, ``s3://`` stores
    are read as ``s3a://``, at the endpoint and with the credentials lakeml uses
    (:mod:`lakeml.spark.s3a`).

    Example:
        >>> spark = lakeml.spark.session()   # doctest: +SKIP
    """
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    builder = SparkSession.builder.appName(app_name).master(
        master or os.environ.get("LAKEML_SPARK_MASTER", "local[*]"))
    settings = dict(DEFAULTS)
    # quiet from the first line: the JVM reads its logging configuration at start
    # (appended: options the user gives, say a truststore, stay)
    logging = Path(__file__).with_name("log4j2.properties")
    extra = (conf or {}).get("spark.driver.extraJavaOptions", "")
    settings["spark.driver.extraJavaOptions"] = \
        f"-Dlog4j2.configurationFile={logging.as_uri()} {extra}".strip()
    # Python workers run this interpreter (its virtualenv has lakeml, pandas and pyarrow),
    # not whichever python3 comes first on PATH; pyspark reads only the variable.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    found = jars.local_jars()
    if found:
        settings["spark.jars"] = ",".join(str(p) for p in found)
    else:
        settings["spark.jars.packages"] = ",".join(jars.COORDINATES)
    if jars.has_s3a():  # s3a:// reaches the S3 endpoint lakeml's own settings name
        from lakeml import config
        from lakeml.spark.s3a import hadoop_settings

        settings.update({f"spark.hadoop.{k}": v
                         for k, v in hadoop_settings(config.storage_options()).items()})
    settings.update({k: v for k, v in (conf or {}).items()
                     if k != "spark.driver.extraJavaOptions"})
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        _start_quiet_context(app_name, master or os.environ.get("LAKEML_SPARK_MASTER",
                                                                "local[*]"), settings)
        spark = builder.getOrCreate()
    except Exception as exc:  # py4j wraps the JVM's ClassNotFoundException
        if "DeltaSparkSessionExtension" not in str(exc):
            raise
        raise InvalidState(
            "Spark cannot load Delta Lake: a JVM started by spark-submit ignores jars named "
            "later; pass them when submitting: spark-submit --jars \"$(lakeml spark-jars)\" "
            f"… (or --packages {','.join(jars.COORDINATES)})") from None
    spark.sparkContext.setLogLevel(os.environ.get("LAKEML_SPARK_LOG_LEVEL", "ERROR").upper())
    return spark


# What the JVM and Spark print at start whatever the log level: the JDK's note on
# Spark's --add-modules, and the Python shell's level banner.
_NOISE = ("WARNING: Using incubator modules", "Setting default log level to",
          "To adjust logging level use sc.setLogLevel")


def _start_quiet_context(app_name: str, master: str, settings: dict[str, str]) -> None:
    """Start the SparkContext with the JVM's stderr behind a filter that drops start-up noise.

    Everything else the JVM prints (errors, and warnings when asked for) still
    reaches this process's stderr, line by line, from a daemon thread.
    """
    import subprocess
    import threading

    from pyspark import SparkConf, SparkContext
    from pyspark.java_gateway import launch_gateway

    if "PYSPARK_GATEWAY_PORT" in os.environ or SparkContext._active_spark_context is not None:
        return  # spark-submit started the JVM, or a context runs: nothing to launch
    conf = SparkConf().setAppName(app_name).setMaster(master)
    for key, value in settings.items():
        conf.set(key, value)
    gateway = launch_gateway(conf, popen_kwargs={"stderr": subprocess.PIPE})

    def forward(stream) -> None:  # noqa: ANN001 - the JVM's stderr pipe
        for raw in iter(stream.readline, b""):
            if not raw.decode(errors="replace").startswith(_NOISE):
                try:  # straight to fd 2: no Python stream lock, safe at interpreter exit
                    os.write(2, raw)
                except OSError:
                    return

    threading.Thread(target=forward, args=(gateway.proc.stderr,), name="lakeml-spark-stderr",
                     daemon=True).start()
    try:
        SparkContext(conf=conf, gateway=gateway)
    except Exception:
        gateway.shutdown()  # a JVM no context owns would live until this process ends
        gateway.proc.kill()
        raise


#: Set to "true" to let Spark commit to an s3:// store with Delta's default S3 log store:
#: you guarantee no other process (lakeml, a server, another Spark job) writes meanwhile.
SINGLE_WRITER_ENV = "LAKEML_SPARK_S3_SINGLE_WRITER"


def unsafe_s3_commit(uri: str, log_store: str | None, single_writer: bool) -> str | None:
    """Why Spark must not commit to the store at ``uri``, or None. Delta Spark's default
    S3 log store commits without conditional writes: a commit racing another writer's
    (lakeml's own writers use conditional puts) can overwrite it, losing acknowledged rows.
    Safe: a local or other store, a DynamoDB log store (``log_store``, Spark's
    ``spark.delta.logStore.s3a.impl``), or ``single_writer`` (SINGLE_WRITER_ENV)."""
    if not uri.startswith(("s3://", "s3a://")) or single_writer:
        return None
    if log_store and "DynamoDB" in log_store:
        return None
    return (f"Spark would commit to {uri!r} with Delta's default S3 log store, which does "
            "not use conditional writes: racing lakeml's writers it can overwrite their "
            "commits. Configure spark.delta.logStore.s3a.impl="
            "io.delta.storage.S3DynamoDBLogStore (with its DynamoDB table), or set "
            f"{SINGLE_WRITER_ENV}=true if nothing else writes to this store meanwhile")


def refuse_unsafe_s3_commit(spark: SparkSession, uri: str) -> None:
    """Raise InvalidState when Spark may not commit to the store at ``uri`` (see
    unsafe_s3_commit)."""
    from lakeml.errors import InvalidState

    reason = unsafe_s3_commit(uri, spark.conf.get("spark.delta.logStore.s3a.impl", None),
                              os.environ.get(SINGLE_WRITER_ENV, "").lower() == "true")
    if reason is not None:
        raise InvalidState(reason)


def spark_path(uri: str) -> str:
    """A store or table URI as Spark's Hadoop file systems name it (s3:// -> s3a://)."""
    scheme, sep, rest = uri.partition("://")
    if not sep:
        return uri
    return f"s3a://{rest}" if scheme == "s3" else uri


def table_path(store: Store, table: str) -> str:
    """Where Spark finds lakeml table ``table`` of ``store``."""
    if table not in store.tables:
        raise InvalidArgument(f"no lakeml table {table!r}; known: {sorted(store.tables)}")
    return spark_path(store.table_uri(table))
