"""How lakeml commits safely to an object store.

A Delta commit is "write log file N+1 unless it exists". Local disks and Azure/GCS do
that atomically; on S3 deltalake needs either conditional writes (``If-None-Match``,
which AWS S3 and most S3-compatible stores support: ``conditional_put=etag``) or a
lock table (DynamoDB). Without either it can only do an unsafe rename that loses
commits when writers race, which is lakeml's normal case. So for ``s3://`` stores
lakeml asks for conditional writes unless a locking provider is configured, and
refuses ``AWS_S3_ALLOW_UNSAFE_RENAME`` outright.
"""

from __future__ import annotations

import os

from lakeml.errors import StoreUnavailable

S3_SCHEMES = ("s3", "s3a")
_TRUE = ("1", "true", "yes", "on")


def delta_options(uri: str, configured: dict[str, str]) -> dict[str, str]:
    """deltalake's storage options for the store at ``uri``: ``configured`` plus what
    safe concurrent commits need there. Raises StoreUnavailable for an unsafe setup."""
    scheme = uri.split("://", 1)[0].lower() if "://" in uri else ""
    if scheme not in S3_SCHEMES:
        return dict(configured)
    options = dict(configured)
    lowered = {k.lower(): v for k, v in options.items()}
    unsafe = lowered.get("aws_s3_allow_unsafe_rename",
                         os.environ.get("AWS_S3_ALLOW_UNSAFE_RENAME", ""))
    if str(unsafe).lower() in _TRUE:
        raise StoreUnavailable(
            f"store {uri!r}: AWS_S3_ALLOW_UNSAFE_RENAME is set, and an unsafe rename loses "
            f"commits when processes write at once; unset it (lakeml uses S3 conditional "
            f"writes) or configure a lock table (AWS_S3_LOCKING_PROVIDER=dynamodb)")
    locking = lowered.get("aws_s3_locking_provider",
                          os.environ.get("AWS_S3_LOCKING_PROVIDER", ""))
    if not locking and "conditional_put" not in lowered and \
            "aws_conditional_put" not in lowered and not os.environ.get("AWS_CONDITIONAL_PUT"):
        options["conditional_put"] = "etag"
    return options
