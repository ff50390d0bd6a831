"""The end-to-end demo: train scikit-learn models, log them as runs, rank them.

Uses the wine dataset that ships with scikit-learn, so it needs no download.
Run it with ``lakeml demo`` (or ``make demo``).
"""

from __future__ import annotations

import time
from typing import Callable, Sequence

EXPERIMENT = "wine-demo"
REGISTERED = "wine-classifier"  # the best model of each demo run becomes its next version


def _candidates():  # noqa: ANN202 - list of (name, estimator)
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return [
        ("logreg-C0.1", make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=500))),
        ("logreg-C10", make_pipeline(StandardScaler(), LogisticRegression(C=10, max_iter=500))),
        ("knn-15", make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=15))),
        ("forest-50", RandomForestClassifier(n_estimators=50, random_state=0)),
        ("gboost-50", GradientBoostingClassifier(n_estimators=50, random_state=0)),
    ]


def _plain_table(columns: Sequence[str], rows: Sequence[tuple]) -> str:
    return "\n".join("\t".join(map(str, row)) for row in [tuple(columns), *rows])


def run_demo(store: str | None = None,
             table: Callable[[Sequence[str], Sequence[tuple]], str] | None = None) -> str:
    """Train the candidates, log each as a run, and return the leaderboard as text.

    ``table(columns, rows)`` renders the leaderboard: the command line passes its
    own table printer (the demo sits below the CLI, so it does not import it);
    without one, rows are printed tab-separated under their column names.
    """
    if table is None:
        table = _plain_table
    import pandas as pd
    from sklearn.datasets import load_wine
    from sklearn.metrics import accuracy_score, f1_score, log_loss
    from sklearn.model_selection import train_test_split

    import lakeml
    import lakeml.pyfunc
    import lakeml.sklearn
    from lakeml.query.sqlfiles import query

    if store:
        lakeml.set_store(store)
    exp = lakeml.set_experiment(EXPERIMENT)
    wine = load_wine(as_frame=True)
    x_train, x_test, y_train, y_test = train_test_split(
        wine.data, wine.target, test_size=0.3, random_state=42, stratify=wine.target)
    train_set = lakeml.data.from_pandas(pd.concat([x_train, y_train], axis=1),
                                        source="sklearn.datasets.load_wine", name="wine-train",
                                        targets="target")
    for name, model in _candidates():
        with lakeml.start_run(run_name=name):
            params = {k: v for k, v in model.get_params().items()
                      if isinstance(v, (int, float, str, bool, type(None)))}
            lakeml.log_params(params)
            lakeml.log_input(train_set, context="training")
            started = time.perf_counter()
            model.fit(x_train, y_train)
            lakeml.log_metric("fit_seconds", time.perf_counter() - started)
            proba = model.predict_proba(x_test)
            pred = proba.argmax(axis=1)
            lakeml.log_metrics({"accuracy": accuracy_score(y_test, pred),
                                "f1_macro": f1_score(y_test, pred, average="macro"),
                                "log_loss": log_loss(y_test, proba)})
            for n in range(20, len(x_train) + 1, 20):  # a learning curve, step = train size
                part = model.fit(x_train[:n], y_train[:n])
                lakeml.log_metric("accuracy_by_train_size",
                                  accuracy_score(y_test, part.predict(x_test)), step=n)
            model.fit(x_train, y_train)
            lakeml.sklearn.log_model(model, "model", input_example=x_train.head(3))
            lakeml.set_tag("family", name.split("-")[0])
    client = lakeml.Client()
    rows = client.sql(query("leaderboard"), {
        "experiment_id": exp.experiment_id, "metric": "log_loss", "ascending": True,
        "limit": 10}).fetchall()
    board = table(["run_id", "run_name", "status", "log_loss", "start_time"],
                  [(r[0], r[1], r[2], r[3], r[4].strftime("%H:%M:%S")) for r in rows])
    version = _register_once(client, rows[0][0])
    client.set_registered_model_alias(REGISTERED, "champion", version.version)
    best_uri = f"models:/{REGISTERED}@champion"
    best = lakeml.pyfunc.load_model(best_uri)  # the packaged model, as a server would load it
    agree = (best.predict(x_test) == _native(rows[0][1]).fit(x_train, y_train)
             .predict(x_test)).mean()
    return (f"store: {client.store_uri}\nexperiment: {EXPERIMENT} (id {exp.experiment_id})\n"
            f"leaderboard by test log_loss (lower is better):\n{board}\n"
            f"best model: runs:/{rows[0][0]}/model, registered as {REGISTERED} version "
            f"{version.version}, alias champion\n"
            f"loaded from {best_uri} (flavors: {', '.join(best.metadata.flavors)}): "
            f"as pyfunc it agrees with the native model on {agree:.0%} of the "
            f"{len(x_test)} test rows\n"
            f"serve it: lakeml models serve --store {client.store_uri} -m {best_uri} "
            f"--port 5001")


def _register_once(client, run_id: str):  # noqa: ANN001, ANN202 - a ModelVersion
    """The version of REGISTERED made from ``run_id``'s model; registered if there is none.

    A second demo whose best run is still an earlier demo's reuses that version.
    """
    from lakeml.errors import NotFound

    try:
        made = client.search_model_versions(f"name = '{REGISTERED}' AND run_id = '{run_id}'")
    except NotFound:
        made = []
    if made:
        return min(made, key=lambda v: int(v.version))
    return client.register_model(f"runs:/{run_id}/model", REGISTERED)


def _native(name: str):  # noqa: ANN202 - a fresh estimator of that candidate
    return dict(_candidates())[name]
