"""HTTP faces of lakeml (the model scoring server)."""
