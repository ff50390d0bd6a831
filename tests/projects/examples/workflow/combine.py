"""Combine both clean sources into a Delta table and fit a classifier on it."""

import argparse

import pandas as pd
from deltalake import write_deltalake
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import lakeml

parser = argparse.ArgumentParser()
parser.add_argument("--a", required=True)
parser.add_argument("--b", required=True)
parser.add_argument("--table", required=True)
args = parser.parse_args()

frame = pd.concat([pd.read_csv(args.a), pd.read_csv(args.b)], ignore_index=True)
write_deltalake(args.table, frame, mode="overwrite")
features = frame.drop(columns="target")
model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
score = cross_val_score(model, features, frame["target"], cv=3).mean()
lakeml.log_metrics({"rows": len(frame), "cv_accuracy": float(score)})
print(f"combine: {len(frame)} rows, cv accuracy {score:.3f}")
