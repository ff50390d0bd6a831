"""The UI API of the model registry: the models list, a model, a version (reads; the
writes are in review.py). Descriptions come as markdown and as sanitised HTML (markdown.py).

The name search is a registry filter (``name ILIKE '%q%'``) with the user's text as a
quoted string (quotes doubled, as the grammar escapes them), so it pages in the
registry rather than in the page.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from lakeml.ui.markdown import Markdown

if TYPE_CHECKING:
    from lakeml.client import Client
    from lakeml.ui.args import Args

PAGE_SIZE = 100


def models(client: Client, args: Args) -> dict[str, Any]:
    """Registered models whose name holds ``q`` (any case), a page at a time, with their
    latest version per stage and their aliases."""
    q = args.get("q") or ""
    flt = "name ILIKE '%" + q.replace("'", "''") + "%'" if q else None
    page = client.search_registered_models(flt, max_results=args.int(
        "max_results", PAGE_SIZE, low=1, high=1000), order_by=["name ASC"],
        page_token=args.get("page_token") or None)
    return {"models": [asdict(m) for m in page], "next_page_token": page.token}


def model(client: Client, args: Args) -> dict[str, Any]:
    """A registered model with every version, newest first."""
    name = args.need("name")
    m = client.get_registered_model(name)
    versions = sorted(client.list_model_versions(name), key=lambda v: -v.version)
    return {"model": asdict(m), "versions": [asdict(v) for v in versions],
            "description_html": Markdown(m.description)}


def version(client: Client, args: Args) -> dict[str, Any]:
    """A model version with its transition requests (every status) and comments."""
    name, number = args.need("name"), args.need("version")
    v = client.get_model_version(name, number)
    requests = client.get_transition_requests(name, v.version, status=None)
    return {"version": asdict(v), "requests": [asdict(r) for r in requests],
            "description_html": Markdown(v.description),
            "comments": [asdict(c) for c in client.get_comments(name, v.version)]}


ROUTES = {"/models": models, "/model": model, "/model-version": version}
