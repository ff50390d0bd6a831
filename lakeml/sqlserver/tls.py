"""TLS for ``lakeml sql-server``: the server's context from a certificate and key file.

A PostgreSQL client asks for TLS with an SSLRequest before its start-up message;
the server answers ``S`` and the two shake hands, or ``N`` and the client goes on
in the clear (or gives up, with ``sslmode=require``). :mod:`lakeml.sqlserver.session`
does that exchange; this module only builds what it wraps the socket with.
"""

from __future__ import annotations

import os
import ssl

from lakeml.errors import InvalidArgument

HANDSHAKE_SECONDS = 30.0  # a client that starts TLS must finish its handshake in this time


def server_context(cert: str | os.PathLike[str] | None,
                   key: str | os.PathLike[str] | None) -> ssl.SSLContext | None:
    """A TLS 1.2+ server context holding ``cert`` (PEM, with its chain) and ``key`` (PEM),
    or None when neither is given. One without the other, a missing file or a key that
    does not match the certificate is refused, naming the file."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        given, missing = ("--tls-cert", "--tls-key") if key is None else \
            ("--tls-key", "--tls-cert")
        raise InvalidArgument(f"{given} needs {missing} too: TLS takes a certificate and "
                              "its private key")
    for flag, path in (("--tls-cert", cert), ("--tls-key", key)):
        if not os.path.isfile(path):
            raise InvalidArgument(f"{flag} {str(path)!r}: no such file")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(certfile=cert, keyfile=key)
    except ssl.SSLError as exc:
        raise InvalidArgument(f"--tls-cert {str(cert)!r} / --tls-key {str(key)!r} cannot be "
                              f"used: {exc.reason or exc} (PEM files of a certificate and "
                              "its matching private key, without a passphrase)") from None
    return context
