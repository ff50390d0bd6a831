"""Where logged models meet the model registry: the two hooks issue 6 fills in.

Until the registry exists, both raise ``NotSupported`` with a message saying
what to use instead; nothing else in lakeml knows about registered models.
"""

from __future__ import annotations

from lakeml.errors import NotSupported


def registry_artifact_uri(model_uri: str) -> str:
    """The artifact URI of ``models:/<name>/<version or stage>`` or ``models:/<name>@<alias>``."""
    raise NotSupported(f"cannot resolve {model_uri!r}: models:/ URIs need the model registry, "
                       "which is not available yet; load the model by runs:/<run_id>/<path>, "
                       "a folder path or a storage URI")


def check_can_register(name: str) -> None:
    """Raise unless ``register_logged_model(…, name)`` could succeed: called before saving."""
    raise NotSupported(f"registering a model as {name!r} needs the model registry, which is "
                       "not available yet; nothing was logged: call log_model without "
                       "registered_model_name")


def register_logged_model(model_uri: str, name: str) -> None:
    """Register the model just logged at ``model_uri`` under ``name``."""
    raise NotSupported(f"the model was logged at {model_uri!r}, but registering it as {name!r} "
                       "needs the model registry, which is not available yet; call log_model "
                       "without registered_model_name")
