"""MLflow 3's per-user permission calls (``/api/3.0/mlflow/users/permissions/...``) over the
server's auth file.

MLflow 3.17's ``AuthServiceClient`` (``mlflow.server.get_app_client("basic-auth", uri)``)
no longer has per-experiment permission methods: it grants, revokes and checks one
resource's permission for a user with these calls, which take
``(username, resource_type, resource_id)``:

- ``POST users/permissions/grant`` (+ ``permission``): the caller needs MANAGE on the
  resource; a user who already holds a grant there gets RESOURCE_ALREADY_EXISTS (400);
- ``POST users/permissions/revoke``: MANAGE; no grant to take is RESOURCE_DOES_NOT_EXIST;
- ``GET users/permissions/get``: the user's effective level (their grant, else the file's
  default; MANAGE for an admin) as ``{"allowed", "permission"}``, ``allowed`` being
  MLflow's "can use" (EDIT or more); for the user themself, and for who may grant it
  (MANAGE on the resource; MLflow: its workspace's admins);
- ``GET users/current/permissions`` and ``GET users/permissions/list?username=``: every
  grant of the caller (or of a user, for admins and themself) as MLflow's rows of the
  user's own role ``__user_<id>__`` in workspace ``default``.

What lakeml's auth file cannot hold is refused by name: resource types other than
``experiment`` and ``registered_model`` (MLflow 3 also has runs, prompts, gateway objects,
...), wildcard ids (``*``), the levels USE and DENY, and MLflow 3's roles (every
``roles/...`` call answers 501 NOT_IMPLEMENTED, pointing at per-user grants). Without
``--auth-file`` there are no users: every call answers 404.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lakeml.errors import InvalidArgument, NotFound, NotSupported
from lakeml.server.access import Session, require
from lakeml.server.permissions_api import _admin_or_self, _session
from lakeml.server.users import KINDS, check_level, rank

if TYPE_CHECKING:
    from lakeml.client import Client
    from lakeml.server.protocol import Fields

PREFIX = "/api/3.0/mlflow"
WORKSPACE = "default"


def _resource(client: Client, session: Session, f: Fields, route: str,
              need: str | None = "MANAGE") -> tuple[str, str]:
    """The request's ``(resource_type, resource_id)``, checked: a kind the auth file keeps,
    one named resource, the caller holding ``need`` on it (None: no check), and the
    resource existing. The permission is checked BEFORE the existence, so a caller
    without it gets 403 whether or not the resource exists: a 404 would tell them which
    ids do."""
    kind = f.required_text("resource_type")
    key = str(f.required("resource_id"))
    if kind not in KINDS:
        raise InvalidArgument(f"resource_type {kind!r} is not supported by lakeml server: it "
                              f"keeps permissions per {' and per '.join(KINDS)}")
    if key == "*":
        raise InvalidArgument("resource_id '*' (a grant on every resource) is not supported "
                              "by lakeml server: the auth file's default permission applies "
                              "to every resource (`lakeml server permissions default`)")
    if need is not None:
        require(client, session, route, kind, key, need)
    if kind == "experiment":
        client.get_experiment(key)  # NotFound for an unknown experiment
    else:
        client.get_registered_model(key)
    return kind, key


def _user(session: Session, f: Fields) -> str:
    name = f.required_text("username")
    if session.users.user(name) is None:
        raise NotFound(f"user {name!r} does not exist")
    return name


def grant_user_permission(client: Client, f: Fields) -> dict[str, Any]:
    session = _session()
    kind, key = _resource(client, session, f, "POST /users/permissions/grant")
    level = check_level(f.required("permission"))
    session.users.grant(kind, key, _user(session, f), level, new=True)
    return {}


def revoke_user_permission(client: Client, f: Fields) -> dict[str, Any]:
    session = _session()
    kind, key = _resource(client, session, f, "POST /users/permissions/revoke")
    session.users.revoke(kind, key, _user(session, f))
    return {}


def get_user_permission(client: Client, f: Fields) -> dict[str, Any]:
    session = _session()
    name = f.required_text("username")
    # another's: who may grant it may see it; one's own: anyone
    kind, key = _resource(client, session, f, "GET /users/permissions/get",
                          "MANAGE" if name != session.user.name else None)
    name = _user(session, f)
    user = session.users.user(name)
    level = "MANAGE" if user is not None and user.admin else session.users.permission(
        name, kind, key)
    return {"allowed": rank(level) >= rank("EDIT"), "permission": level}


def _rows(session: Session, name: str) -> dict[str, Any]:
    user = session.users.user(name)
    if user is None:
        raise NotFound(f"user {name!r} does not exist")
    data = session.users.data()
    rows = [{"role_id": 0, "role_name": f"__user_{user.id}__", "workspace": WORKSPACE,
             "resource_type": kind, "resource_pattern": key, "permission": grants[name]}
            for kind, field in KINDS.items()
            for key, grants in sorted(data[field].items()) if name in grants]
    return {"is_admin": user.admin, "permissions": rows}


def list_current_user_permissions(client: Client, f: Fields) -> dict[str, Any]:
    session = _session()
    return _rows(session, session.user.name)


def list_user_permissions(client: Client, f: Fields) -> dict[str, Any]:
    session = _session()
    name = f.required_text("username")
    _admin_or_self(client, session, "GET /users/permissions/list", name, self_ok=True)
    return _rows(session, name)


def roles(client: Client, f: Fields) -> dict[str, Any]:
    _session()
    raise NotSupported("roles are not supported by lakeml server: grant each user a "
                       "permission on an experiment or registered model "
                       "(users/permissions/grant, or `lakeml server permissions set`)")


#: MLflow 3's role calls (mlflow/server/auth/routes.py), all answered by :func:`roles`
ROLE_ROUTES = (
    ("POST", "/roles/create"), ("GET", "/roles/get"), ("GET", "/roles/list"),
    ("PATCH", "/roles/update"), ("DELETE", "/roles/delete"),
    ("POST", "/roles/permissions/add"), ("DELETE", "/roles/permissions/remove"),
    ("GET", "/roles/permissions/list"), ("PATCH", "/roles/permissions/update"),
    ("POST", "/roles/assign"), ("DELETE", "/roles/unassign"),
    ("GET", "/users/roles/list"), ("GET", "/roles/users/list"),
)

#: (method, path under /api/3.0/mlflow, handler, writes); the handlers check the caller
ROUTES = (
    ("POST", "/users/permissions/grant", grant_user_permission, False),
    ("POST", "/users/permissions/revoke", revoke_user_permission, False),
    ("GET", "/users/permissions/get", get_user_permission, False),
    ("GET", "/users/current/permissions", list_current_user_permissions, False),
    ("GET", "/users/permissions/list", list_user_permissions, False),
    *((method, path, roles, False) for method, path in ROLE_ROUTES),
)
