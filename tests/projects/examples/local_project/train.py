"""Fit a ridge regression on scikit-learn's diabetes data and log it into the run."""

import argparse
import os
import sys

from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import train_test_split

import lakeml

parser = argparse.ArgumentParser()
parser.add_argument("--alpha", type=float, required=True)
parser.add_argument("--max-iter", type=int, required=True)
parser.add_argument("--note", required=True)
parser.add_argument("--extra", default=None)  # a parameter the MLproject does not declare
args = parser.parse_args()

X, y = load_diabetes(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
model = Ridge(alpha=args.alpha, max_iter=args.max_iter).fit(X_train, y_train)
rmse = mean_squared_error(y_test, model.predict(X_test)) ** 0.5

with lakeml.start_run() as run:  # resumes the run that `lakeml run` created
    lakeml.log_metric("rmse", rmse)
    lakeml.set_tag("child.python", sys.executable)
    lakeml.set_tag("child.run_id_env", os.environ["LAKEML_RUN_ID"])
    if args.extra is not None:
        lakeml.set_tag("child.extra", args.extra)
print(f"trained ridge alpha={args.alpha} rmse={rmse:.4f} run={run.info.run_id}")
