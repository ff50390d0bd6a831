"""MLflow's auth REST calls (``users/...``, ``experiments/permissions/...``,
``registered-models/permissions/...``), over the server's auth file.

They are what ``mlflow.server.get_app_client("basic-auth", uri)`` calls, with MLflow's
fields and JSON shapes. Users are managed by admins (a user may read themself and change
their own password); a permission on an experiment or registered model is granted, read,
changed or taken away by whoever holds MANAGE on it. No answer carries a password, a token
or a hash. Without ``--auth-file`` there are no users: every call answers 404.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lakeml.errors import BadRequest, InvalidArgument, NotFound
from lakeml.server.access import Session, current_session, deny, require
from lakeml.server.users import check_level

if TYPE_CHECKING:
    from lakeml.client import Client
    from lakeml.server.protocol import Fields


def _session() -> Session:
    session = current_session()
    if session is None:
        raise NotFound("this server runs without --auth-file: it has no users or "
                       "permissions")
    return session


def _admin_or_self(client: Client, session: Session, route: str, username: str,
                   *, self_ok: bool) -> None:
    if session.user.admin or (self_ok and username == session.user.name):
        return
    deny(client, session, route, "user", username, "none", "admin",
         f"user {session.user.name!r} may not {route} for user {username!r}: admins only")


def _user_json(session: Session, name: str) -> dict[str, Any]:
    user = session.users.user(name)
    if user is None:
        raise NotFound(f"user {name!r} does not exist")
    data = session.users.data()
    return {"id": user.id, "username": name, "is_admin": user.admin,
            "experiment_permissions": [
                {"experiment_id": key, "user_id": user.id, "permission": grants[name]}
                for key, grants in sorted(data["experiments"].items()) if name in grants],
            "registered_model_permissions": [
                {"name": key, "user_id": user.id, "permission": grants[name]}
                for key, grants in sorted(data["registered_models"].items())
                if name in grants]}


# ---- users ----------------------------------------------------------------------------------
def create_user(client: Client, f: Fields) -> dict[str, Any]:
    session = _session()
    name = f.required_text("username")
    _admin_or_self(client, session, "POST /users/create", name, self_ok=False)
    session.users.add_user(name, f.required_text("password"))
    return {"user": _user_json(session, name)}


def get_user(client: Client, f: Fields) -> dict[str, Any]:
    session = _session()
    name = f.required_text("username")
    _admin_or_self(client, session, "GET /users/get", name, self_ok=True)
    return {"user": _user_json(session, name)}


def current_user(client: Client, f: Fields) -> dict[str, Any]:
    """The signed-in caller (what a web page asks to show who is logged in)."""
    session = _session()
    return {"user": _user_json(session, session.user.name)}


def list_users(client: Client, f: Fields) -> dict[str, Any]:
    session = _session()
    _admin_or_self(client, session, "GET /users/list", "*", self_ok=False)
    return {"users": [_user_json(session, u["username"]) for u in session.users.describe()]}


def update_password(client: Client, f: Fields) -> dict[str, Any]:
    """An admin sets anyone's password; a user changing their own (admins too) must give
    ``current_password``, as MLflow 3 asks, so a borrowed session cannot take the account."""
    session = _session()
    name = f.required_text("username")
    _admin_or_self(client, session, "PATCH /users/update-password", name, self_ok=True)
    password = f.required_text("password")
    if name == session.user.name:
        current = f.text("current_password")
        if not current:
            raise InvalidArgument("current_password is required to change your own password")
        if session.users.check_password(name, current) is None:
            raise InvalidArgument("current_password does not match")
        if password == current:
            raise InvalidArgument("the new password must differ from the current one")
    session.users.set_password(name, password)
    return {}


def update_admin(client: Client, f: Fields) -> dict[str, Any]:
    session = _session()
    name = f.required_text("username")
    _admin_or_self(client, session, "PATCH /users/update-admin", name, self_ok=False)
    value = f.required("is_admin")
    session.users.set_admin(name, value.strip().lower() == "true" if isinstance(value, str)
                            else bool(value))
    return {}


def delete_user(client: Client, f: Fields) -> dict[str, Any]:
    session = _session()
    name = f.required_text("username")
    _admin_or_self(client, session, "DELETE /users/delete", name, self_ok=False)
    if name == session.user.name:  # as MLflow 3: the caller would lock themself out
        raise BadRequest(f"user {name!r} may not delete their own account: another admin "
                         "may")
    session.users.remove_user(name)
    return {}


# ---- permissions ----------------------------------------------------------------------------
def _permission_calls(kind: str, field: str, path: str, out: str) -> tuple:
    """The create, get, update and delete handlers of one resource kind's permissions."""

    def target(client: Client, f: Fields, route: str) -> tuple[Session, str, str]:
        session = _session()
        key = str(f.required(field))
        username = f.required_text("username")
        if kind == "experiment":
            client.get_experiment(key)  # NotFound for an unknown experiment
        else:
            client.get_registered_model(key)
        require(client, session, route, kind, key, "MANAGE")
        if session.users.user(username) is None:
            raise NotFound(f"user {username!r} does not exist")
        return session, key, username

    def shown(session: Session, key: str, username: str) -> dict[str, Any]:
        user = session.users.user(username)
        level = session.users.grants(kind, key).get(username)
        if level is None:
            raise NotFound(f"user {username!r} has no permission on {kind} {key!r}")
        return {out: {field: key, "user_id": user.id if user else 0, "permission": level}}

    def create(client: Client, f: Fields) -> dict[str, Any]:
        session, key, username = target(client, f, f"POST {path}/create")
        session.users.grant(kind, key, username, check_level(f.required("permission")))
        return shown(session, key, username)

    def get(client: Client, f: Fields) -> dict[str, Any]:
        session, key, username = target(client, f, f"GET {path}/get")
        return shown(session, key, username)

    def update(client: Client, f: Fields) -> dict[str, Any]:
        session, key, username = target(client, f, f"PATCH {path}/update")
        session.users.grant(kind, key, username, check_level(f.required("permission")))
        return {}

    def delete(client: Client, f: Fields) -> dict[str, Any]:
        session, key, username = target(client, f, f"DELETE {path}/delete")
        session.users.revoke(kind, key, username)
        return {}

    for handler, verb in ((create, "create"), (get, "get"), (update, "update"),
                          (delete, "delete")):
        handler.__name__ = f"{verb}_{kind}_permission"
    return create, get, update, delete


_EXP = _permission_calls("experiment", "experiment_id", "/experiments/permissions",
                         "experiment_permission")
_MODEL = _permission_calls("registered_model", "name", "/registered-models/permissions",
                           "registered_model_permission")

#: (method, path under /api/2.0/mlflow, handler, writes)
ROUTES = (
    ("POST", "/users/create", create_user, False),
    ("GET", "/users/get", get_user, False),
    ("GET", "/users/current", current_user, False),
    ("GET", "/users/list", list_users, False),
    ("PATCH", "/users/update-password", update_password, False),
    ("PATCH", "/users/update-admin", update_admin, False),
    ("DELETE", "/users/delete", delete_user, False),
    *((method, f"/{kind}/permissions/{verb}", handler, False)
      for kind, calls in (("experiments", _EXP), ("registered-models", _MODEL))
      for (verb, method), handler in zip((("create", "POST"), ("get", "GET"),
                                          ("update", "PATCH"), ("delete", "DELETE")), calls)),
)
