#!/usr/bin/env bash
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# A fleet of hosts on this machine, for the netns_fleet scenario and the fleet benchmark.
#
#   fleet.sh up NAME COUNT   hosts NAME-host1..COUNT, each a process with its own network,
#                            mount and UTS namespaces (so its own /run/netns, /etc/netns
#                            and /var/lib/cnm, and the restore unit's /etc/systemd/system and
#                            /usr/local/lib, with no systemd to run it), joined by eth0
#                            (198.18.0.K/24) to a bridge in namespace NAME-ul (198.18.0.254,
#                            every host's default route).
#                            Writes RUN/NAME/hostK.pid, for Ansible's nsenter connection.
#   fleet.sh down NAME       stops every process of the fleet's sandboxes and hosts and
#                            removes the underlay; safe to run again, or on a half-made fleet.
#   fleet.sh pid NAME K      the PID of host K.
#   fleet.sh hosts NAME      the hosts as JSON inventory host vars: community.docker's
#                            nsenter connection to each host's PID, Debian's python3.
#
# 198.18.0.0/15 is the range set aside for benchmarking (RFC 2544); nothing outside the
# fleet's own namespaces is ever addressed.
set -euo pipefail

RUN=${CNM_FLEET_RUN:-/run/cnm-fleet}
cmd=${1:?usage: fleet.sh up NAME COUNT | down NAME | pid NAME K | hosts NAME}
name=${2:?name}
dir=$RUN/$name
ul=$name-ul

host_up() {
  local k=$1 pid
  # The host process: private mounts, tmpfs over what must be per host, then sleep.
  setsid unshare --net --mount --uts --propagation private -- sh -c "
    mount -t tmpfs -o mode=0755 cnm-netns /run/netns &&
    mount -t tmpfs -o mode=0755 cnm-etc-netns /etc/netns &&
    mount -t tmpfs -o mode=0700 cnm-state /var/lib/cnm &&
    mount -t tmpfs -o mode=0755 cnm-units /etc/systemd/system &&
    mount -t tmpfs -o mode=0755 cnm-code /usr/local/lib &&
    { [ ! -d /run/systemd/system ] || mount -t tmpfs cnm-nosystemd /run/systemd/system; } &&
    hostname $name-host$k && exec sleep infinity" </dev/null >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    [ "$(nsenter -t "$pid" -u hostname 2>/dev/null)" = "$name-host$k" ] && break
    sleep 0.05
  done
  [ "$(nsenter -t "$pid" -u hostname)" = "$name-host$k" ] || { echo "host$k did not start" >&2; exit 1; }
  echo "$pid" > "$dir/host$k.pid"
  ip -n "$ul" link add "h$k" master ul up type veth peer name eth0 netns "$pid"
  nsenter -t "$pid" -n sh -c "
    ip link set lo up && ip link set eth0 up &&
    ip addr add 198.18.0.$k/24 dev eth0 && ip route add default via 198.18.0.254"
}

up() {
  local count=${1:?count}
  [ "$count" -ge 1 ] && [ "$count" -le 250 ] || { echo "COUNT must be 1 to 250" >&2; exit 1; }
  down 2>/dev/null || true
  mkdir -p "$dir" /run/netns /etc/netns /var/lib/cnm
  ip netns add "$ul"
  ip -n "$ul" link set lo up
  ip -n "$ul" link add ul type bridge
  ip -n "$ul" addr add 198.18.0.254/24 dev ul
  ip -n "$ul" link set ul up
  for k in $(seq "$count"); do host_up "$k"; done
}

down() {
  local f pid sb
  for f in "$dir"/host*.pid; do
    [ -e "$f" ] || continue
    pid=$(cat "$f")
    if [ -d "/proc/$pid" ]; then
      # Processes left in the host's sandboxes keep them alive: stop them first.
      for sb in $(nsenter -t "$pid" -m ls /run/netns 2>/dev/null); do
        nsenter -t "$pid" -m ip netns pids "$sb" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
      done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
  done
  ip netns pids "$ul" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
  ip netns del "$ul" 2>/dev/null || true
  rmdir "$dir" 2>/dev/null || true
}

hosts() {
  local f sep=""
  printf '{'
  for f in "$dir"/host*.pid; do
    [ -e "$f" ] || continue
    printf '%s"%s": {"ansible_connection": "community.docker.nsenter", "ansible_nsenter_pid": %s, ' \
      "$sep" "$(basename "$f" .pid)" "$(cat "$f")"
    printf '"ansible_python_interpreter": "/usr/bin/python3"}'
    sep=", "
  done
  printf '}\n'
}

case $cmd in
  up) up "${3:-}" ;;
  down) down ;;
  pid) cat "$dir/host${3:?K}.pid" ;;
  hosts) hosts ;;
  *) echo "unknown command $cmd" >&2; exit 2 ;;
esac
