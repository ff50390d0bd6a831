"""lakeml's web UI: pages over a store, served by the tracking server at ``/``.

Two halves: a small JSON API for the pages (``/ajax-api/lakeml/...``, built on a
:class:`lakeml.Client`, see :mod:`lakeml.ui.routes`), and the pages themselves, plain ES
modules, CSS and a vendored chart library under ``static/`` (no build step, no CDN: the
wheel holds every file, so the UI works offline). ``lakeml server`` mounts it with
:func:`mount`; ``lakeml ui`` is the same server on loopback.
"""

from __future__ import annotations

from lakeml.ui.routes import mount

__all__ = ["mount"]
