"""Report the interpreter and the pinned package that the virtualenv provides."""

import sys

import tinycase

import lakeml

word = sys.argv[1]
lakeml.set_tags({"env.prefix": sys.prefix, "env.tinycase_file": tinycase.__file__,
                 "env.tinycase_version": tinycase.__version__})
lakeml.log_param("camelized", tinycase.camelize(word))
print(f"check_env: {tinycase.camelize(word)} from {sys.prefix}")
