"""Print the arguments the command received, one per line."""

import sys

for arg in sys.argv[1:]:
    print(f"arg: {arg}")
