#!/usr/bin/env bash
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# check-package.sh OUT: build the collection's tarball into OUT/dist, install it into the empty
# collections path OUT/installed, document every plugin and role from the installed copy, and
# fail if the test rig went into the package. Prints the tarball's size and file count.
set -euo pipefail
out=${1:?usage: check-package.sh OUT}
rm -rf "$out/dist" "$out/installed"
ansible-galaxy collection build --output-path "$out/dist" >/dev/null
tarball=$(ls "$out"/dist/cnm-fabric-*.tar.gz)
export ANSIBLE_COLLECTIONS_PATH=$out/installed
ansible-galaxy collection install --offline -p "$out/installed" "$tarball" >/dev/null

files=$(tar tzf "$tarball" | grep -v '/$')
rig=$(grep -E '^(Makefile|benchmarks/|molecule/|tests/integration/|tests/tools/|\.build/|\.venv|\.ci/|tests/requirements\.txt)' <<<"$files" || true)
if [ -n "$rig" ]; then
  echo "the test rig is in the package:"; echo "$rig"; exit 1
fi
for must in LICENSE README.md CHANGELOG.rst changelogs/changelog.yaml meta/runtime.yml; do
  grep -qx "$must" <<<"$files" || { echo "$must is missing from the package"; exit 1; }
done

root=$out/installed/ansible_collections/cnm/fabric
count=0
for kind in module filter; do
  dir=$([ $kind = module ] && echo modules || echo filter)
  for plugin in $(ls "$root/plugins/$dir" | sed -n 's/\.\(py\|yml\)$//p' | sort -u); do
    [ "$kind" = filter ] && [ "$plugin" = overlay ] && continue  # the file that implements the filters
    ansible-doc -t "$kind" "cnm.fabric.$plugin" >/dev/null
    count=$((count + 1))
  done
done
for role in $(ls "$root/roles"); do
  ansible-doc -t role "cnm.fabric.$role" >/dev/null
  count=$((count + 1))
done
# ansible-doc lists every module of the installed copy, and no other.
[ "$(ansible-doc -l cnm.fabric | grep -c '^cnm.fabric.cnm_')" = "$(ls "$root"/plugins/modules/cnm_*.py | wc -l)" ]
for play in demo teardown overlay; do  # playbooks run by name from the installed copy
  ansible-playbook --syntax-check "cnm.fabric.$play" >/dev/null
done
echo "package: $(basename "$tarball"), $(stat -c %s "$tarball") bytes, $(wc -l <<<"$files") files;" \
     "ansible-doc documented $count plugins and roles from the installed copy"
