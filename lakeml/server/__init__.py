"""lakeml's tracking server: MLflow's REST API 2.0 over a ``lakeml.Client``.

``lakeml server`` (lakeml/cli/server.py) runs it on uvicorn. app.py builds the FastAPI
app from a Client; experiments.py, runs.py and registry.py hold the routes, each a table of
(method, path, handler, writes); protocol.py reads requests and writes entities in
MLflow's JSON; errors.py answers every error in MLflow's shape. MLflow's client logs
and loads models and artifacts through artifacts.py (the ``mlflow-artifacts`` proxy,
with the locations of proxy_uris.py), run_io.py and logged_models.py. Nothing here is
imported by ``import lakeml``: FastAPI and uvicorn load only when the server starts.

With ``--auth-file``: auth.py signs callers in (and limits bodies), users.py keeps the
auth file, rules.py says what each route needs, access.py checks and audits it, and
permissions_api.py serves MLflow's user and permission calls; review.py serves the
registry's transition requests.

The model scoring server is :mod:`lakeml.models.serving`.
"""
