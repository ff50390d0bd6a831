"""Models: the folder format (MLmodel + files), signatures, URIs and lineage.

The flavors' public faces are ``lakeml.pyfunc``, ``lakeml.sklearn``,
``lakeml.xgboost``, ``lakeml.lightgbm`` and ``lakeml.pytorch``.
"""

from __future__ import annotations

from lakeml.models.descriptor import Model
from lakeml.models.signature import ColSpec, ModelSignature, Schema, TensorSpec, infer_signature

__all__ = ["ColSpec", "Model", "ModelSignature", "Schema", "TensorSpec", "infer_signature"]
