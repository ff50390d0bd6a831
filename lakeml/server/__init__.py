"""The home of lakeml's tracking server (REST API and UI over the services); empty for now.

The model scoring server is :mod:`lakeml.models.serving`.
"""
