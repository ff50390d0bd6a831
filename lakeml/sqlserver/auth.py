"""Who may connect to ``lakeml sql-server``: the auth file, and the SCRAM-SHA-256 and MD5
exchanges that check a password without it ever crossing the wire.

The auth file holds one user a line, ``name:verifier``, where the verifier is
what PostgreSQL itself stores: ``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>``
(made by :func:`scram_verifier`, or ``lakeml sql-server --add-user``), or
``md5<hex of md5(password + name)>`` for old clients. ``#`` starts a comment. The
file never holds a password, and a stolen file does not let anyone log in
(RFC 5802 / RFC 7677).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from lakeml.errors import InvalidArgument

SCRAM_ITERATIONS = 4096
MECHANISM = "SCRAM-SHA-256"


class AuthFailed(Exception):
    """A client failed to prove its password (SQLSTATE 28P01)."""


@dataclass(frozen=True)
class ScramSecret:
    """A user's SCRAM-SHA-256 verifier."""

    iterations: int
    salt: bytes
    stored_key: bytes
    server_key: bytes


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _hmac(key: bytes, text: bytes) -> bytes:
    return hmac.new(key, text, hashlib.sha256).digest()


def scram_verifier(password: str, *, iterations: int = SCRAM_ITERATIONS,
                   salt: bytes | None = None) -> str:
    """The SCRAM-SHA-256 verifier of ``password``, as PostgreSQL writes it.

    Example:
        >>> scram_verifier("s3cret").startswith("SCRAM-SHA-256$4096:")
        True
    """
    salt = salt or os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    stored = hashlib.sha256(_hmac(salted, b"Client Key")).digest()
    server = _hmac(salted, b"Server Key")
    return f"{MECHANISM}${iterations}:{_b64(salt)}${_b64(stored)}:{_b64(server)}"


def parse_scram(verifier: str) -> ScramSecret:
    try:
        mechanism, params, keys = verifier.split("$")
        iterations, salt = params.split(":")
        stored, server = keys.split(":")
        if mechanism != MECHANISM:
            raise ValueError(mechanism)
        return ScramSecret(int(iterations), base64.b64decode(salt, validate=True),
                           base64.b64decode(stored, validate=True),
                           base64.b64decode(server, validate=True))
    except ValueError as exc:
        raise InvalidArgument(f"not a SCRAM-SHA-256 verifier: {verifier[:40]!r}… "
                              f"({exc})") from None


def md5_verifier(user: str, password: str) -> str:
    """PostgreSQL's MD5 verifier, ``md5`` + md5(password + user)."""
    return "md5" + hashlib.md5((password + user).encode("utf-8")).hexdigest()


def load_users(path: str | os.PathLike[str]) -> dict[str, str]:
    """{user: verifier} from an auth file; a bad line raises InvalidArgument naming it."""
    users: dict[str, str] = {}
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidArgument(f"cannot read the auth file {str(path)!r}: {exc}") from None
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, verifier = line.partition(":")
        valid_md5 = verifier.startswith("md5") and len(verifier) == 35
        if not sep or not name or not (verifier.startswith(MECHANISM) or valid_md5):
            raise InvalidArgument(
                f"{path}:{number}: expected 'user:SCRAM-SHA-256$…' or 'user:md5…', got "
                f"{line[:40]!r} (make entries with `lakeml sql-server --add-user NAME`)")
        if verifier.startswith(MECHANISM):
            parse_scram(verifier)
        users[name] = verifier
    return users


def add_user(path: str | os.PathLike[str], user: str, password: str) -> None:
    """Write ``user``'s SCRAM verifier into the auth file (replacing an older entry)."""
    if not user or ":" in user or any(c.isspace() for c in user):
        raise InvalidArgument(f"user name {user!r}: non-empty, without ':' or spaces")
    if not password:
        raise InvalidArgument(f"an empty password for user {user!r}")
    target = Path(path)
    lines = target.read_text(encoding="utf-8").splitlines() if target.exists() else []
    kept = [line for line in lines if line.partition(":")[0].strip() != user]
    kept.append(f"{user}:{scram_verifier(password)}")
    target.write_text("\n".join(kept) + "\n", encoding="utf-8")
    target.chmod(0o600)


class ScramExchange:
    """The server's side of one SCRAM-SHA-256 exchange (RFC 5802, without channel
    binding). An unknown user goes through the same steps with a made-up secret and
    fails at the end, so the exchange does not tell which users exist."""

    def __init__(self, secret: ScramSecret | None) -> None:
        self._known = secret is not None
        self._secret = secret or parse_scram(scram_verifier(secrets.token_hex(16)))
        self._nonce = ""
        self._client_first_bare = ""
        self._server_first = ""

    def first(self, client_first: bytes) -> bytes:
        """The server-first-message for the client-first-message."""
        text = client_first.decode("utf-8", "replace")
        header, _, bare = text.partition(",")
        if header not in ("n", "y"):
            raise AuthFailed("SCRAM channel binding is not supported; connect with "
                             "channel_binding=disable or prefer")
        _authzid, _, bare = bare.partition(",")
        fields = dict(part.split("=", 1) for part in bare.split(",") if "=" in part)
        if "r" not in fields:
            raise AuthFailed("malformed SCRAM client-first-message")
        self._client_first_bare = bare
        self._nonce = fields["r"] + _b64(os.urandom(18))
        s = self._secret
        self._server_first = f"r={self._nonce},s={_b64(s.salt)},i={s.iterations}"
        return self._server_first.encode()

    def final(self, client_final: bytes) -> bytes:
        """The server-final-message, or AuthFailed if the proof is wrong."""
        text = client_final.decode("utf-8", "replace")
        without_proof, _, proof_field = text.rpartition(",p=")
        fields = dict(part.split("=", 1) for part in without_proof.split(",") if "=" in part)
        if fields.get("r") != self._nonce or not proof_field:
            raise AuthFailed("SCRAM nonce mismatch")
        message = ",".join((self._client_first_bare, self._server_first, without_proof))
        signature = _hmac(self._secret.stored_key, message.encode())
        try:
            proof = base64.b64decode(proof_field, validate=True)
        except ValueError:
            raise AuthFailed("malformed SCRAM proof") from None
        client_key = bytes(a ^ b for a, b in zip(proof, signature))
        valid = hmac.compare_digest(hashlib.sha256(client_key).digest(),
                                    self._secret.stored_key)
        if not (valid and self._known and len(proof) == len(signature)):
            raise AuthFailed("password authentication failed")
        return f"v={_b64(_hmac(self._secret.server_key, message.encode()))}".encode()


def check_md5(verifier: str, salt: bytes, response: str) -> bool:
    """Whether ``response`` (``md5`` + md5(verifier hex + salt)) matches the verifier."""
    expected = "md5" + hashlib.md5(verifier[3:].encode("ascii") + salt).hexdigest()
    return hmac.compare_digest(expected, response)
