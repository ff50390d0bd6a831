"""The tracking server's auth file: users, password and token hashes, admin flags, and
MLflow-style permissions per experiment and per registered model.

One JSON file (``lakeml server --auth-file FILE``), written by ``lakeml server users ...``
and ``lakeml server permissions ...`` and by the server itself (a creator's MANAGE grant,
MLflow's permission endpoints)::

    {"format": "lakeml-server-auth 1",
     "default_permission": "READ",
     "users": {"alice": {"id": 1, "admin": false,
                         "password": "scrypt$16384$8$1$<salt>$<hash>",
                         "tokens": {"3f2a9c1e": {"hash": "<sha256>", "created": "..."}}}},
     "experiments": {"12": {"alice": "MANAGE"}},
     "registered_models": {"churn": {"alice": "MANAGE", "bob": "READ"}}}

Why a file and not a table of the store: these are a server's secrets and its security
policy, not data to analyse; they need an atomic read-modify-write (the grant that makes a
creator MANAGE must not lose a concurrent one), a place only the server's admin can read
(the file is created 0600), and an admin CLI that works with the server down. A lock file
beside it serialises writers (the server's workers and the CLI); a write goes to a
temporary file that replaces the old one, so a reader sees the old or the new file, never
half of one; readers re-read it when it changes, so a new user or grant takes effect at the
next request without a restart. Several machines serving one store need the file on a
shared file system.

Secrets: a password is kept as a salted scrypt hash (n=2**14, r=8, p=1), compared in
constant time; an API token is 32 random bytes shown once, kept as its SHA-256 (a random
token needs no slow hash) under a short public id that finds it. Nothing here returns or
logs a secret or a hash: :meth:`AuthFile.describe` is what may be shown.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from lakeml.errors import AlreadyExists, InvalidArgument, NotFound

FORMAT = "lakeml-server-auth 1"
#: MLflow's permission levels, weakest first; each includes those before it.
LEVELS = ("NO_PERMISSIONS", "READ", "EDIT", "MANAGE")
KINDS = {"experiment": "experiments", "registered_model": "registered_models"}
TOKEN_PREFIX = "lkm"
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
_USER_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@-+")


def rank(level: str) -> int:
    """The strength of a permission level (NO_PERMISSIONS 0 ... MANAGE 3)."""
    return LEVELS.index(level)


def check_level(level: object) -> str:
    """A permission level, upper-cased; InvalidArgument naming a bad one."""
    text = str(level).strip().upper() if isinstance(level, str) else None
    if text not in LEVELS:
        raise InvalidArgument(f"permission {level!r} is not one of {', '.join(LEVELS)}")
    return text


def check_username(name: object) -> str:
    """A user name: 1-128 letters, digits or ``. _ @ - +`` (no ``:``, which Basic auth
    uses to end the name)."""
    if (not isinstance(name, str) or not 0 < len(name) <= 128
            or not set(name) <= _USER_CHARS):
        raise InvalidArgument(f"invalid user name {name!r}: use 1-128 letters, digits or "
                              ". _ @ - +")
    return name


def check_password(password: object) -> str:
    if not isinstance(password, str) or len(password) < 8:
        raise InvalidArgument("a password must be a string of at least 8 characters")
    if len(password) > 1024:
        raise InvalidArgument("a password must be at most 1024 characters")
    return password


def hash_password(password: str) -> str:
    """A salted scrypt hash of ``password`` as ``scrypt$n$r$p$salt$hash`` (base64)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    b64 = base64.b64encode
    return (f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}$"
            f"{b64(salt).decode()}${b64(digest).decode()}")


def verify_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches ``stored``, in constant time. A missing user still
    costs one scrypt, so timing does not tell which names exist."""
    try:
        _, n, r, p, salt, digest = (stored or "").split("$")
        salt_b, digest_b = base64.b64decode(salt), base64.b64decode(digest)
        params = {"n": int(n), "r": int(r), "p": int(p)}
    except ValueError:
        salt_b, digest_b, params = b"\0" * 16, b"\1" * 32, _SCRYPT
    # maxmem: scrypt needs 128 * r * n bytes; allow it for the parameters stored
    got = hashlib.scrypt(password.encode(), salt=salt_b, dklen=len(digest_b),
                         maxmem=256 * params["r"] * params["n"] + 2**20, **params)
    return hmac.compare_digest(got, digest_b) and stored is not None


def _token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split_token(token: str) -> tuple[str, str] | None:
    """``lkm_<id>_<secret>`` as (id, secret); None if it is not of that shape."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


@dataclass(frozen=True)
class User:
    """An authenticated user (no secret in it)."""

    name: str
    admin: bool
    id: int = 0


def _empty() -> dict[str, Any]:
    return {"format": FORMAT, "default_permission": "READ", "users": {}, "experiments": {},
            "registered_models": {}}


class AuthFile:
    """One auth file: read (cached until the file changes), checked, and written under a
    lock. Thread-safe; processes coordinate through the lock file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser().resolve()
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        self._cache: tuple[tuple[int, int, int], bytes, dict[str, Any]] | None = None
        self._mutex = threading.Lock()

    # ---- reading ----------------------------------------------------------------------
    def data(self) -> dict[str, Any]:
        """The file's content (the same dict until the file changes: do not modify it)."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise NotFound(f"auth file {str(self.path)!r} does not exist; create it with "
                           "`lakeml server users add NAME --admin --auth-file FILE`") from None
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        # File times tick coarsely (a few ms) and inodes are reused: two writes in one tick
        # can leave the same stamp, so a file changed in the last seconds is read again and
        # compared (as git does with "racily clean" files).
        racy = time.time_ns() - st.st_mtime_ns < 3_000_000_000
        with self._mutex:
            if self._cache is not None and self._cache[0] == stamp and not racy:
                return self._cache[2]
            raw = self.path.read_bytes()
            same = self._cache is not None and self._cache[1] == raw
            self._cache = (stamp, raw, self._cache[2] if same else self._parse(raw))
            return self._cache[2]

    def _parse(self, raw: bytes) -> dict[str, Any]:
        try:
            data = json.loads(raw)
        except ValueError:
            raise InvalidArgument(f"auth file {str(self.path)!r} is not valid JSON") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise InvalidArgument(f"auth file {str(self.path)!r} is not a lakeml server auth "
                                  f"file (its 'format' must be {FORMAT!r})")
        for key in ("users", "experiments", "registered_models"):
            if not isinstance(data.setdefault(key, {}), dict):
                raise InvalidArgument(f"auth file {str(self.path)!r}: {key!r} must be an "
                                      "object")
        data["default_permission"] = check_level(data.get("default_permission", "READ"))
        return data

    def user(self, name: str) -> User | None:
        record = self.data()["users"].get(name)
        if record is None:
            return None
        return User(name, bool(record.get("admin")), int(record.get("id", 0)))

    def check_password(self, name: str, password: str) -> User | None:
        """The user if ``password`` is theirs, else None."""
        record = self.data()["users"].get(name) or {}
        if verify_password(password, record.get("password")):
            return self.user(name)
        return None

    def check_token(self, token: str) -> User | None:
        """The user an API token belongs to, else None."""
        parts = split_token(token)
        if parts is None:
            return None
        token_id, secret = parts
        for name, record in self.data()["users"].items():
            found = (record.get("tokens") or {}).get(token_id)
            if found is not None:
                if hmac.compare_digest(_token_hash(secret), str(found.get("hash", ""))):
                    return self.user(name)
                return None
        return None

    def stored_password(self, name: str) -> str | None:
        """The stored hash of ``name``'s password (to tell whether it changed; never shown)."""
        return (self.data()["users"].get(name) or {}).get("password")

    def permission(self, user: str, kind: str, key: str) -> str:
        """``user``'s level on experiment id / registered model name ``key``: their grant,
        else the file's default."""
        data = self.data()
        granted = (data[KINDS[kind]].get(str(key)) or {}).get(user)
        return granted or data["default_permission"]

    def grants(self, kind: str, key: str) -> dict[str, str]:
        return dict(self.data()[KINDS[kind]].get(str(key)) or {})

    def describe(self) -> list[dict[str, Any]]:
        """Every user as may be shown: name, id, admin, token ids; no secret, no hash."""
        out = []
        for name, record in sorted(self.data()["users"].items()):
            out.append({"username": name, "id": record.get("id", 0),
                        "is_admin": bool(record.get("admin")),
                        "tokens": sorted(record.get("tokens") or {})})
        return out

    # ---- writing ----------------------------------------------------------------------
    @contextlib.contextmanager
    def edit(self, *, create: bool = False) -> Iterator[dict[str, Any]]:
        """Hold the file's lock and yield its content to change; written on leaving."""
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if self.path.exists():
                data = self._parse(self.path.read_bytes())
            elif create:
                data = _empty()
            else:
                self.data()  # raises NotFound naming the file
                raise AssertionError("unreachable")
            yield data
            self._write(data)
        finally:
            os.close(fd)  # releases the lock

    def _write(self, data: dict[str, Any]) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as out:
                json.dump(data, out, indent=1, sort_keys=True)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def add_user(self, name: str, password: str, *, admin: bool = False) -> User:
        check_username(name)
        hashed = hash_password(check_password(password))
        with self.edit(create=True) as data:
            if name in data["users"]:
                raise AlreadyExists(f"user {name!r} already exists in {str(self.path)!r}")
            ids = [int(r.get("id", 0)) for r in data["users"].values()]
            data["users"][name] = {"id": max(ids, default=0) + 1, "admin": bool(admin),
                                   "password": hashed, "tokens": {}}
            return User(name, bool(admin), data["users"][name]["id"])

    def _record(self, data: dict[str, Any], name: str) -> dict[str, Any]:
        record = data["users"].get(name)
        if record is None:
            raise NotFound(f"user {name!r} does not exist in {str(self.path)!r}")
        return record

    def remove_user(self, name: str) -> None:
        """Remove the user, their tokens and their grants."""
        with self.edit() as data:
            self._record(data, name)
            del data["users"][name]
            for kind in KINDS.values():
                for grants in data[kind].values():
                    grants.pop(name, None)

    def set_password(self, name: str, password: str) -> None:
        hashed = hash_password(check_password(password))
        with self.edit() as data:
            self._record(data, name)["password"] = hashed

    def set_admin(self, name: str, admin: bool) -> None:
        with self.edit() as data:
            self._record(data, name)["admin"] = bool(admin)

    def new_token(self, name: str) -> str:
        """A new API token of ``name``: returned once, kept only as a hash."""
        token_id, secret = secrets.token_hex(4), secrets.token_urlsafe(32)
        with self.edit() as data:
            tokens = self._record(data, name).setdefault("tokens", {})
            tokens[token_id] = {"hash": _token_hash(secret),
                                "created": datetime.now(timezone.utc).isoformat(
                                    timespec="seconds")}
        return f"{TOKEN_PREFIX}_{token_id}_{secret}"

    def revoke_token(self, name: str, token_id: str) -> None:
        with self.edit() as data:
            tokens = self._record(data, name).get("tokens") or {}
            if tokens.pop(token_id, None) is None:
                raise NotFound(f"user {name!r} has no token {token_id!r}")

    def set_default(self, level: str) -> None:
        """The level users hold on experiments and models they were not granted."""
        level = check_level(level)
        with self.edit(create=True) as data:
            data["default_permission"] = level

    def grant(self, kind: str, key: str, user: str, level: str, *, new: bool = False) -> None:
        """Give ``user`` ``level`` on experiment id / registered model name ``key``; with
        ``new``, AlreadyExists if they hold a grant there (checked under the file's lock)."""
        level = check_level(level)
        with self.edit() as data:
            self._record(data, user)
            grants = data[KINDS[kind]].setdefault(str(key), {})
            if new and user in grants:
                raise AlreadyExists(f"user {user!r} already has a permission on {kind} "
                                    f"{key!r} ({grants[user]}): update or revoke it")
            grants[user] = level

    def revoke(self, kind: str, key: str, user: str) -> None:
        """Take ``user``'s grant on ``key`` away (the default applies again)."""
        with self.edit() as data:
            grants = data[KINDS[kind]].get(str(key)) or {}
            if grants.pop(user, None) is None:
                raise NotFound(f"user {user!r} has no permission on {kind} {key!r}")

    def move_model(self, old: str, new: str) -> None:
        """A renamed registered model keeps its grants."""
        with self.edit() as data:
            grants = data["registered_models"].pop(old, None)
            if grants is not None:
                data["registered_models"][new] = grants

    def drop_model(self, name: str) -> None:
        """A deleted registered model's grants go: a new model of that name starts afresh."""
        with self.edit() as data:
            data["registered_models"].pop(name, None)
