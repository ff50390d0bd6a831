"""Spark on the same S3 store as lakeml: Hadoop's ``s3a://`` settings from lakeml's own.

lakeml's Python side reads its S3 settings as deltalake and s3fs do: the standard AWS
environment variables (``AWS_ENDPOINT_URL``, ``AWS_REGION``, ``AWS_ACCESS_KEY_ID``…) or
the ``storage_options`` of conf/lakeml.yaml. Spark reaches S3 through Hadoop's S3A file
system, which names the same things ``fs.s3a.*``. :func:`hadoop_settings` translates
one into the other, so one configuration points both sides at one endpoint;
:func:`lakeml.spark.session` starts with them, and :func:`configure` sets them on a
session started elsewhere (spark-submit, a notebook's), before its first ``s3a://``
read: Hadoop keeps one file system per bucket once made.

An S3-compatible endpoint (MinIO, moto, Ceph…) gets path-style requests, as deltalake
sends them unless ``AWS_VIRTUAL_HOSTED_STYLE_REQUEST`` is true, and plain HTTP when the
endpoint's URL says ``http://``.

Commits: Delta Spark 4.0 commits to ``s3a://`` with its single-driver log store, which
is safe against the other writers of the same Spark driver only. lakeml's Python
writers commit with S3 conditional writes, which Delta Spark does not use: do not run
a Spark write to a table while Python processes write to it, or configure Delta's
DynamoDB log store (``delta-storage-s3-dynamodb``) for Spark. Spark reads are always
safe.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Mapping

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

_TRUE = ("1", "true", "yes", "on")


def _lookup(options: Mapping[str, str], env: Mapping[str, str], *names: str) -> str | None:
    """The first of ``names`` set in ``options`` (any case), else in ``env``."""
    lowered = {k.lower(): v for k, v in options.items()}
    for name in names:
        if lowered.get(name.lower()):
            return str(lowered[name.lower()])
    for name in names:
        if env.get(name):
            return env[name]
    return None


def hadoop_settings(storage_options: Mapping[str, str] | None = None,
                    env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The ``fs.s3a.*`` settings that reach the S3 endpoint lakeml's deltalake options
    (``storage_options``, then the environment ``env``, default ``os.environ``) name.

    Example:
        >>> hadoop_settings({}, {"AWS_ENDPOINT_URL": "http://127.0.0.1:9000",
        ...                      "AWS_REGION": "us-east-1"})["fs.s3a.path.style.access"]
        'true'
    """
    options = storage_options or {}
    env = os.environ if env is None else env
    settings: dict[str, str] = {}
    endpoint = _lookup(options, env, "AWS_ENDPOINT_URL", "AWS_ENDPOINT", "endpoint_url",
                       "endpoint")
    if endpoint:
        settings["fs.s3a.endpoint"] = endpoint
        virtual = _lookup(options, env, "AWS_VIRTUAL_HOSTED_STYLE_REQUEST") or ""
        settings["fs.s3a.path.style.access"] = \
            "false" if virtual.lower() in _TRUE else "true"
        settings["fs.s3a.connection.ssl.enabled"] = \
            "false" if endpoint.lower().startswith("http://") else "true"
    region = _lookup(options, env, "AWS_REGION", "AWS_DEFAULT_REGION", "region")
    if region:
        settings["fs.s3a.endpoint.region"] = region
    key = _lookup(options, env, "AWS_ACCESS_KEY_ID", "access_key_id")
    secret = _lookup(options, env, "AWS_SECRET_ACCESS_KEY", "secret_access_key")
    if key and secret:
        settings["fs.s3a.access.key"] = key
        settings["fs.s3a.secret.key"] = secret
        token = _lookup(options, env, "AWS_SESSION_TOKEN", "session_token")
        if token:
            settings["fs.s3a.session.token"] = token
            settings["fs.s3a.aws.credentials.provider"] = \
                "org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider"
    return settings


def configure(spark: SparkSession, storage_options: Mapping[str, str] | None = None,
              env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Set :func:`hadoop_settings` on a running session's Hadoop configuration (before
    its first read of the bucket); returns them. ``storage_options`` default to
    conf/lakeml.yaml's.

    Example:
        >>> lakeml.spark.configure_s3a(spark)                       # doctest: +SKIP
        >>> lakeml.spark.runs(spark, "s3://bucket/lake").count()    # doctest: +SKIP
    """
    from lakeml import config

    settings = hadoop_settings(config.storage_options() if storage_options is None
                               else storage_options, env)
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()  # noqa: SLF001 - pyspark's way
    for key, value in settings.items():
        hadoop.set(key, value)
    return settings
