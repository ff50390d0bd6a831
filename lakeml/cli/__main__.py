"""``python -m lakeml.cli`` runs the command line, as ``python -m lakeml`` does."""

import sys

from lakeml.cli import main

sys.exit(main())
