"""Log which version of the code ran (the VERSION file of this commit)."""

import sys
from pathlib import Path

import lakeml

version = Path(__file__).with_name("VERSION").read_text().strip()
lakeml.log_param("code_version", version)
lakeml.set_tag("greeting", sys.argv[1])
print(f"report: code version {version}")
