"""Report the interpreter and the pinned package that the virtualenv provides."""

import sys

import inflection

import lakeml

word = sys.argv[1]
lakeml.set_tags({"env.prefix": sys.prefix, "env.inflection_file": inflection.__file__,
                 "env.inflection_version": inflection.__version__})
lakeml.log_param("camelized", inflection.camelize(word))
print(f"check_env: {inflection.camelize(word)} from {sys.prefix}")
