#!/bin/sh
# Reproduce lakeml/ui/static/vendor/: the one third-party asset of the web UI, uPlot (MIT),
# taken from the npm registry at a pinned version, and check it against SHA256SUMS.
#   sh lakeml/ui/vendor.sh          # fetch, copy, verify
# No build step: the UI is plain ES modules, and uPlot's ESM build is imported as is.
set -eu
VERSION=1.6.32
here=$(cd "$(dirname "$0")" && pwd)
dest="$here/static/vendor/uplot"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "uplot@$VERSION" >/dev/null && tar xzf "uplot-$VERSION.tgz")
mkdir -p "$dest"
cp "$work/package/dist/uPlot.esm.js" "$work/package/dist/uPlot.min.css" \
   "$work/package/LICENSE" "$dest/"
echo "$VERSION" > "$dest/VERSION"
(cd "$dest" && sha256sum -c SHA256SUMS)
