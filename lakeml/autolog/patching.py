"""Safe patching of library methods: the contract every autolog integration keeps.

- **Never break training.** A failure inside autologging (before or after the
  library's own call) is collected, and the fit ends with one
  :class:`AutologgingWarning` naming what failed; the library call itself runs
  as if autologging were off. An exception raised by the library's own call
  propagates unchanged (the run autologging opened for it ends FAILED).
- **Log once.** A thread-local depth counter marks "inside an autologged
  call": a fit reached from inside another (a Pipeline inside GridSearchCV,
  ``XGBClassifier.fit`` calling ``xgboost.train``, a ``super().fit``) runs the
  original method and logs nothing.
- **Restorable.** Every patch records the attribute it replaced;
  :func:`unpatch_all` puts the originals back (or removes the attribute when
  the class only inherited it).
- **Lazy.** :func:`when_imported` patches a library now if it is imported,
  else right after its first import, so ``lakeml.autolog()`` imports nothing.
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.util
import inspect
import logging
import sys
import threading
import warnings
from dataclasses import dataclass
from typing import Any, Callable

log = logging.getLogger(__name__)


class AutologgingWarning(UserWarning):
    """Autologging failed for one call; the library call itself went on."""


@dataclass
class AutologConfig:
    """The switches of one integration (``lakeml.<flavor>.autolog(...)``'s arguments)."""

    log_models: bool = True
    log_input_examples: bool = False
    log_model_signatures: bool = True
    log_datasets: bool = True
    max_tuning_runs: int | None = 5
    disable: bool = False
    exclusive: bool = False
    silent: bool = False


_configs: dict[str, AutologConfig] = {}
_patches: dict[str, list[tuple[Any, str, bool, Any]]] = {}
_lock = threading.RLock()
_local = threading.local()


def get_config(integration: str) -> AutologConfig | None:
    """The integration's switches while it is enabled, else None."""
    config = _configs.get(integration)
    return None if config is None or config.disable else config


def set_config(integration: str, config: AutologConfig) -> None:
    with _lock:
        _configs[integration] = config


def depth() -> int:
    """How many autologged calls this thread is inside of (0: none)."""
    return getattr(_local, "depth", 0)


class inside:  # noqa: N801 - used as a context manager, reads as a phrase
    """Mark this thread as inside an autologged call (nested fits log nothing)."""

    def __enter__(self) -> None:
        _local.depth = getattr(_local, "depth", 0) + 1

    def __exit__(self, *exc: object) -> None:
        _local.depth -= 1


# ---- patch and unpatch -----------------------------------------------------------------
def patch(integration: str, owner: Any, name: str,
          make_wrapper: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    """Replace ``owner.name`` by ``make_wrapper(original)``; remembered for unpatching.

    Patching the same attribute twice for one integration keeps the first
    original (enabling autolog twice does not wrap a wrapper).
    """
    with _lock:
        done = _patches.setdefault(integration, [])
        if any(o is owner and n == name for o, n, _, _ in done):
            return
        own = name in getattr(owner, "__dict__", {})
        original = owner.__dict__[name] if own else getattr(owner, name)
        if isinstance(original, (staticmethod, classmethod)):
            return  # not a training method: leave it alone
        wrapper = make_wrapper(original)
        functools.update_wrapper(wrapper, original)
        wrapper.__lakeml_original__ = original  # type: ignore[attr-defined]
        setattr(owner, name, wrapper)
        done.append((owner, name, own, original))


def patch_method(integration: str, cls: type, name: str,
                 make_wrapper: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    """Patch method ``name`` as ``cls`` resolves it (a no-op when it has none).

    A method behind scikit-learn's ``available_if`` (``Pipeline.predict_proba``…)
    is patched inside its descriptor, so ``hasattr`` answers as before.
    """
    raw = next((k.__dict__[name] for k in cls.__mro__ if name in k.__dict__), None)
    if inspect.isfunction(raw):
        patch(integration, cls, name, make_wrapper)
    elif inspect.isfunction(getattr(raw, "fn", None)) and "fn" in vars(raw):
        patch(integration, raw, "fn", make_wrapper)


def unpatch_all(integration: str) -> None:
    """Restore every attribute the integration patched."""
    with _lock:
        for owner, name, own, original in reversed(_patches.pop(integration, [])):
            if own:
                setattr(owner, name, original)
            else:
                try:
                    delattr(owner, name)
                except AttributeError:
                    pass


def is_patched(integration: str) -> bool:
    """Whether the integration has patches in place."""
    return bool(_patches.get(integration))


# ---- reporting failures ------------------------------------------------------------------
class Failures:
    """Collects what failed during one autologged call; :meth:`report` warns once."""

    def __init__(self, integration: str, config: AutologConfig) -> None:
        self.integration = integration
        self.config = config
        self.errors: list[str] = []

    def attempt(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)``, or None with the failure recorded under ``what``."""
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the contract: never break training
            self.errors.append(f"{what}: {type(exc).__name__}: {exc}")
            return None

    def report(self) -> None:
        if not self.errors:
            return
        message = (f"lakeml {self.integration} autologging failed, training was not affected: "
                   + "; ".join(self.errors))
        if self.config.silent:
            log.debug(message)
        else:
            warnings.warn(message, AutologgingWarning, stacklevel=4)


# ---- lazy patching on import ---------------------------------------------------------------
_import_hooks: dict[str, list[Callable[[], None]]] = {}


class _PostImportFinder(importlib.abc.MetaPathFinder):
    """Runs the hooks registered for a module right after it is first executed."""

    def __init__(self) -> None:
        self._busy: set[str] = set()

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname not in _import_hooks or fullname in self._busy:
            return None
        self._busy.add(fullname)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self._busy.discard(fullname)
        loader = getattr(spec, "loader", None)
        if spec is None or loader is None or not hasattr(loader, "exec_module"):
            return None
        exec_module = loader.exec_module

        def exec_then_hook(module: Any) -> None:
            exec_module(module)
            _run_hooks(fullname)

        loader.exec_module = exec_then_hook
        return spec


_finder = _PostImportFinder()


def _run_hooks(module_name: str) -> None:
    with _lock:
        hooks = _import_hooks.pop(module_name, [])
    for hook in hooks:
        try:
            hook()
        except Exception as exc:  # noqa: BLE001 - a failed patch must not break the import
            warnings.warn(f"lakeml autologging could not patch {module_name}: "
                          f"{type(exc).__name__}: {exc}", AutologgingWarning, stacklevel=2)


def when_imported(module_name: str, hook: Callable[[], None]) -> None:
    """Call ``hook()`` now if ``module_name`` is imported, else right after its import.

    Hooks check that their integration is still enabled when they run, so a
    switch turned off before the import patches nothing.
    """
    if module_name in sys.modules:
        hook()
        return
    with _lock:
        _import_hooks.setdefault(module_name, []).append(hook)
        if _finder not in sys.meta_path:
            sys.meta_path.insert(0, _finder)



def switch(integration: str, config: AutologConfig, *libraries: str,
           hook: Callable[[str], None]) -> None:
    """Record ``config`` for ``integration``; then restore the originals if it disables,
    else call ``hook(library)`` for each library when it is (or once it gets) imported."""
    set_config(integration, config)
    if config.disable:
        unpatch_all(integration)
        return
    for library in libraries:
        when_imported(library, lambda library=library: hook(library))


def reset() -> None:
    """Turn every integration off: originals restored, switches and pending hooks dropped."""
    with _lock:
        for integration in list(_patches):
            unpatch_all(integration)
        _configs.clear()
        _import_hooks.clear()
