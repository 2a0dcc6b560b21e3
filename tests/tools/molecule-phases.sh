#!/usr/bin/env bash
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# molecule-phases.sh MOLECULE SCENARIO PHASE...: a scenario's sequence one phase at a time,
# then each phase's time. A failed phase stops the sequence, and the scenario is destroyed.
set -uo pipefail
molecule=${1:?molecule}; scenario=${2:?scenario}; shift 2
report=() failed=
for phase in "$@"; do
  start=$SECONDS
  "$molecule" "$phase" -s "$scenario" || failed=$phase
  report+=("$(printf '%-12s %4d s%s' "$phase" $((SECONDS - start)) "${failed:+  FAILED}")")
  [ -z "$failed" ] || { "$molecule" destroy -s "$scenario" >/dev/null 2>&1; break; }
done
printf '%s phases:\n' "$scenario"; printf '  %s\n' "${report[@]}"
[ -z "$failed" ]
