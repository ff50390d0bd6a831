"""A registered model trained on a Delta table: what the monitor tests watch.

``churn`` is a logistic regression on ``age`` and ``income`` (doubles) and ``plan``
(a string the model ignores but the signature lists, as a categorical feature),
trained on version 0 of ``<store>/data/customers``, logged with that dataset as its
training input, registered and aliased ``champion``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

FEATURES = ["age", "income", "plan"]


def customers(n: int, *, seed: int = 0, age_shift: float = 0.0) -> pd.DataFrame:
    """Synthetic customers; ``age_shift`` moves the age mean by that many sd (10)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"age": rng.normal(40 + 10 * age_shift, 10, n),
                          "income": rng.normal(50, 15, n),
                          "plan": rng.choice(["basic", "plus", "pro"], n, p=[.5, .3, .2])})
    frame["label"] = (frame.age + rng.normal(0, 5, n) > 40).astype("int64")
    return frame



def train(store: str, n: int = 3000) -> dict[str, Any]:
    """Train, log and register ``churn`` in ``store``; returns what the tests need."""
    from deltalake import write_deltalake
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    import lakeml
    import lakeml.data
    import lakeml.sklearn
    from lakeml.models.signature import infer_signature

    lakeml.set_store(store)
    data = customers(n)
    table = f"{store}/data/customers"
    write_deltalake(table, data)
    dataset = lakeml.data.from_delta(table, targets="label")
    model = make_pipeline(ColumnTransformer([("num", "passthrough", ["age", "income"])]),
                          LogisticRegression()).fit(data[FEATURES], data.label)
    with lakeml.start_run() as run:
        lakeml.log_input(dataset, context="training")
        lakeml.sklearn.log_model(model, "model",
                                 signature=infer_signature(data[FEATURES],
                                                           model.predict(data[FEATURES])),
                                 registered_model_name="churn")
    client = lakeml.Client(store)
    client.set_registered_model_alias("churn", "champion", 1)
    client.flush()
    return {"model": model, "data": data, "table": table, "run_id": run.info.run_id}
