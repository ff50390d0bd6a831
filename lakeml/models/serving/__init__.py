"""The model scoring server (``lakeml models serve``): MLflow's REST protocol for one model.

A face: only the faces (the CLI, the tracking server) import it; the rest of
lakeml scores models through :mod:`lakeml.models.pyfunc_model`.
"""
