"""``python -m lakeml`` runs the command line."""

import sys

from lakeml.cli import main

sys.exit(main())
