#!/usr/bin/env bash
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# docs.sh BUILD: lint the collection's docs, draw the guides' diagrams from real runs
# (diagrams.py), and build the HTML site - the plugin reference antsibull-docs generates and the
# guides of docs/docsite - into BUILD/docs, failing on any warning.
set -euo pipefail
build=$(realpath "${1:?usage: docs.sh BUILD}")
src=$build/docs-src
here=$(dirname "$0")

antsibull-docs lint-collection-docs --plugin-docs .
rm -rf "$src" "$build/docs" && mkdir -p "$src" && chmod 755 "$src"
antsibull-docs sphinx-init --use-current --dest-dir "$src" --fail-on-error --title "cnm.fabric" cnm.fabric >/dev/null
# Built offline: Ansible's and Python's docs (intersphinx) cannot be fetched, so the references every
# generated page makes to them (common return values, configuration settings) stay plain text.
cat >> "$src/conf.py" <<'PY'
intersphinx_mapping = {}
suppress_warnings = ["ref.ref"]
PY
mkdir -p "$src/rst" && chmod og-w "$src/rst"
antsibull-docs --config-file "$src/antsibull-docs.cfg" collection --cleanup everything --fail-on-error \
  --use-current --dest-dir "$src/rst" cnm.fabric >/dev/null
python "$here/diagrams.py" "$src/diagrams"
dot -Tsvg docs/docsite/macvlan_trunk.dot -o "$src/diagrams/macvlan_trunk.svg"  # drawn by hand: see the file
# The README's picture is tracked, and the build writes nothing tracked: it says when they differ.
cmp -s "$src/diagrams/bridge.svg" docs/bridge-example.svg ||
  echo "docs: docs/bridge-example.svg differs from the drawing of this build; to update it: cp $src/diagrams/bridge.svg docs/"
# Each ".. cnm-diagram: NAME" comment of a guide becomes the SVG drawn for NAME.
python3 - "$src" <<'PY'
import glob, os, sys
src = sys.argv[1]
for path in glob.glob(os.path.join(src, "rst", "**", "guide_*.rst"), recursive=True):
    text = open(path).read()
    for line in [l for l in text.splitlines() if l.startswith(".. cnm-diagram: ")]:
        svg = open(os.path.join(src, "diagrams", line.split(": ", 1)[1] + ".svg")).read()
        svg = svg[svg.index("<svg"):]
        text = text.replace(line, ".. raw:: html\n\n" + "".join("    %s\n" % l for l in svg.splitlines()))
    open(path, "w").write(text)
PY
sphinx-build -M html "$src/rst" "$build/docs" -c "$src" -q -W --keep-going
echo "docs: $build/docs/html/index.html"
