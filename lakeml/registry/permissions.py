"""Who may do what in the registry: users and roles from a YAML file.

The file (setting ``permissions`` / ``LAKEML_PERMISSIONS``; an annotated
example is conf/permissions.example.yaml) maps roles to capabilities and
users to roles::

    roles:
      scientist: {register: true, transition: [None, Staging], request: [Production]}
      reviewer:  {approve: [Staging, Production, Archived], alias: true}
      admin:     {admin: true}
    users: {alice: [scientist], bob: [reviewer], carol: [admin]}
    default_roles: []          # roles of users the file does not list

Capabilities: ``register`` (create models and versions, edit descriptions
and tags), ``transition`` (stages a version may be moved into directly),
``request`` (stages a transition may be requested into; ``transition``
implies it), ``approve`` (stages whose requests the user may approve or
reject), ``alias`` (set and delete aliases), ``admin`` (everything, including
rename and delete). ``"*"`` means every stage. Reading is open to all, and
anyone may comment and cancel their own requests.

Without a file every user may do everything, as in MLflow without auth. Through
``lakeml server --auth-file`` the user is the signed-in caller, and the server's admins
may do everything here too.

Names are read as written: a plain key such as user ``no`` or ``on`` stays
that text (PyYAML's YAML 1.1 would make it a boolean), while a role name in
a list must be quoted if YAML would read it as something else (``['no']``).

Trust model: this is policy for cooperating clients. The library checks it
before writing, but whoever can write the store's files can bypass it; keep
hostile users out with storage permissions, and give them ``lakeml server
--auth-file`` in front: there the acting user is authenticated, so the
policy is enforced.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from lakeml import config
from lakeml.entities.model_version import STAGES, canonical_stage
from lakeml.errors import InvalidArgument, PermissionDenied

_BOOL_CAPS = ("register", "alias", "admin")
_STAGE_CAPS = ("transition", "request", "approve")
_OPEN_CAPS = ("comment",)  # anyone may comment


@dataclass(frozen=True)
class Role:
    """One role's capabilities."""

    register: bool = False
    alias: bool = False
    admin: bool = False
    transition: frozenset[str] = frozenset()
    request: frozenset[str] = frozenset()
    approve: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Policy:
    """The roles and user assignments of one permissions file (None: open)."""

    path: str | None
    roles: dict[str, Role] = field(default_factory=dict)
    users: dict[str, tuple[str, ...]] = field(default_factory=dict)
    default_roles: tuple[str, ...] = ()

    def roles_of(self, user: str) -> list[Role]:
        names = self.users.get(user, self.default_roles)
        return [self.roles[n] for n in names]

    def allows(self, user: str, capability: str, stage: str | None = None) -> bool:
        """Whether ``user`` holds ``capability`` (for ``stage`` when it takes one)."""
        if self.path is None or capability in _OPEN_CAPS or config.acting_admin():
            return True  # (an admin of the tracking server serving the request)
        for role in self.roles_of(user):
            if role.admin:
                return True
            if capability in _BOOL_CAPS and getattr(role, capability):
                return True
            if capability in _STAGE_CAPS:
                stages = set(getattr(role, capability))
                if capability == "request":
                    stages |= role.transition
                if stage in stages:
                    return True
        return False

    def check(self, user: str, capability: str, action: str, target: str,
              stage: str | None = None) -> None:
        """Raise PermissionDenied naming user, action and target unless allowed."""
        if self.allows(user, capability, stage):
            return
        roles = ", ".join(self.users.get(user, self.default_roles)) or "none"
        need = f"{capability} {stage}" if stage else capability
        raise PermissionDenied(f"user {user!r} may not {action} {target}: needs "
                               f"{need!r} (roles: {roles}; policy {self.path})")


OPEN = Policy(None)


def _stages(value: object, where: str) -> frozenset[str]:
    if value in (None, False):
        return frozenset()
    if value == "*" or value is True:
        return frozenset(STAGES)
    if not isinstance(value, list):
        raise InvalidArgument(f"{where} must be a list of stages or '*', got {value!r}")
    if "*" in value:
        return frozenset(STAGES)
    return frozenset(canonical_stage(str(s)) for s in value)


def parse_policy(data: object, path: str) -> Policy:
    """Build a Policy from the YAML document ``data`` read from ``path``."""
    if not isinstance(data, dict):
        raise InvalidArgument(f"{path}: must hold a mapping with 'roles' and 'users'")
    unknown = set(data) - {"roles", "users", "default_roles"}
    if unknown:
        raise InvalidArgument(f"{path}: unknown key(s) {sorted(unknown)}; "
                              "valid: roles, users, default_roles")
    for key in ("roles", "users"):
        if not isinstance(data.get(key) or {}, dict):
            raise InvalidArgument(f"{path}: {key!r} must be a mapping, got {data[key]!r}")
    roles: dict[str, Role] = {}
    for name, caps in (data.get("roles") or {}).items():
        caps = caps or {}
        if not isinstance(caps, dict):
            raise InvalidArgument(f"{path}: role {name!r} must map capabilities, got {caps!r}")
        bad = set(caps) - set(_BOOL_CAPS) - set(_STAGE_CAPS)
        if bad:
            raise InvalidArgument(f"{path}: role {name!r} has unknown capability "
                                  f"{sorted(bad)}; valid: {sorted(_BOOL_CAPS + _STAGE_CAPS)}")
        flags = {c: caps.get(c, False) for c in _BOOL_CAPS}
        not_bool = {c: v for c, v in flags.items() if not isinstance(v, bool)}
        if not_bool:
            raise InvalidArgument(f"{path}: role {name!r}: {not_bool} must be true or false")
        roles[str(name)] = Role(
            **flags,
            **{c: _stages(caps.get(c), f"{path}: role {name!r} {c}") for c in _STAGE_CAPS})

    def role_list(value: object, where: str) -> tuple[str, ...]:
        names = [value] if isinstance(value, str) else list(value or [])
        not_text = [n for n in names if not isinstance(n, str)]
        if not_text:  # e.g. [no] or [on]: YAML 1.1 reads them as booleans
            raise InvalidArgument(f"{path}: {where} lists role(s) {not_text} that YAML read "
                                  "as booleans, numbers or null; quote role names "
                                  "(e.g. 'no')")
        missing = [n for n in names if n not in roles]
        if missing:
            raise InvalidArgument(f"{path}: {where} names undefined role(s) {missing}; "
                                  f"defined: {sorted(roles)}")
        return tuple(names)

    users = {str(u): role_list(r, f"user {u!r}") for u, r in (data.get("users") or {}).items()}
    return Policy(path, roles, users, role_list(data.get("default_roles"), "default_roles"))


@lru_cache(maxsize=1)
def _loader() -> type:
    """A safe YAML loader that keeps plain mapping keys as written.

    PyYAML reads YAML 1.1, where a plain ``no``, ``yes``, ``on``, ``off``,
    ``null`` or ``0123`` is a boolean, null or number: user ``no`` would become
    ``False`` and then the user ``'False'``. Keys are names here (users, roles,
    capabilities), so a plain key stays the text it is; values keep YAML's types
    (``register: true``).
    """
    import yaml

    text = "tag:yaml.org,2002:str"
    typed = {f"tag:yaml.org,2002:{t}" for t in ("bool", "int", "float", "null", "timestamp")}

    class KeysAsWritten(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):  # noqa: ANN001, ANN202
            for key, _ in node.value:
                if isinstance(key, yaml.ScalarNode) and key.style is None and key.tag in typed:
                    key.tag = text
            return super().construct_mapping(node, deep)

    return KeysAsWritten


@lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int) -> Policy:
    import yaml

    try:
        data = yaml.load(Path(path).read_text(), Loader=_loader())  # noqa: S506 - safe loader
    except yaml.YAMLError as exc:
        raise InvalidArgument(f"{path}: not valid YAML: {exc}") from None
    return parse_policy(data, path)


def current_policy() -> Policy:
    """The policy of the ``permissions`` setting, re-read when its file changes."""
    path = config.get("permissions")
    if not path:
        return OPEN
    try:
        mtime = os.stat(path).st_mtime_ns
    except OSError:
        raise InvalidArgument(f"permissions file {path!r} (LAKEML_PERMISSIONS or conf "
                              "'permissions') does not exist") from None
    return _load(os.path.abspath(path), mtime)
