#!/usr/bin/env bash
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Small Debian 12 VMs under qemu (TCG), for the vm_fleet scenario: kernels of their own,
# with the modules this machine's kernel lacks (8021q, ipvlan, esp4).
#
#   vm.sh image           build the disk image (vm-image.sh: debootstrap, Debian's cloud
#                         kernel) into DIR/image-HASH, unless it is there: HASH is the
#                         recipe's, so the image is rebuilt when the recipe changes
#   vm.sh run CMD...      run CMD inside the segment namespace (made here, removed after,
#                         with every VM still running in it): the VMs' trunk NICs are tap
#                         ports of its bridge "seg" (the trunk's switch, which passes tagged
#                         frames as they are), and their SSH ports listen on its 127.0.0.1,
#                         so nothing leaves this machine
#   vm.sh up COUNT        (inside run) boot vm1..COUNT; wait for SSH
#   vm.sh down            (inside run) stop every VM and remove their disks
#   vm.sh ssh K CMD...    a command on VM K
#   vm.sh capture COUNT FILTER K CMD...
#                         (inside run) CMD on VM K while tcpdump watches the trunk's switch
#                         for COUNT frames matching FILTER (25 s at most): prints PROBE-OK or
#                         PROBE-FAILED (CMD's outcome), then the frames, with their MACs
#
# VM K: SSH on 127.0.0.1:(2200+K); eth0 is qemu's user network, restricted (no way out);
# eth1 is the trunk, 198.18.1.K/24 untagged (the underlay), tagged VLANs on top.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
DIR=${CNM_VM_DIR:-$(cd "$HERE/../.." && pwd)/.build/vm}
HASH=$(sha256sum "$HERE/vm-image.sh" | cut -c1-12)
IMAGE=$DIR/image-$HASH
RUN=$DIR/run
NS=${CNM_VM_NS:-cnm-vmseg}
KEY=$DIR/id_ed25519
SSH_OPTS=(-i "$KEY" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR
          -o ConnectTimeout=5 -o BatchMode=yes)

image() {
  [ -f "$IMAGE/done" ] || DIR=$DIR IMAGE=$IMAGE KEY=$KEY "$HERE/vm-image.sh"
}

in_segment() {
  [ "$(ip netns identify $$ 2>/dev/null)" = "$NS" ] || { echo "run this inside: vm.sh run ..." >&2; exit 1; }
}

up() {
  local count=${1:?count} k
  in_segment
  [ -f "$IMAGE/done" ] || { echo "no image: vm.sh run builds it, before it enters the namespace" >&2; exit 1; }
  mkdir -p "$RUN"
  for k in $(seq "$count"); do
    qemu-img create -q -f qcow2 -F qcow2 -b "$IMAGE/disk.qcow2" "$RUN/vm$k.qcow2"
    ip tuntap add dev "vmt$k" mode tap && ip link set "vmt$k" master seg up
    qemu-system-x86_64 -name "cnm-vm$k" -accel tcg,tb-size=256 -cpu qemu64 -smp 1 -m 512 \
      -display none -monitor none -serial "file:$RUN/vm$k.console" \
      -kernel "$IMAGE/vmlinuz" -initrd "$IMAGE/initrd.img" \
      -append "root=/dev/vda rw console=ttyS0 net.ifnames=0 systemd.hostname=vm$k cnm.underlay=198.18.1.$k/24" \
      -drive "file=$RUN/vm$k.qcow2,if=virtio,format=qcow2" \
      -netdev "user,id=mgmt,restrict=on,hostfwd=tcp:127.0.0.1:$((2200 + k))-:22" \
      -device virtio-net-pci,netdev=mgmt \
      -netdev "tap,id=trunk,ifname=vmt$k,script=no,downscript=no" \
      -device "virtio-net-pci,netdev=trunk,mac=52:54:00:00:01:0$k" \
      -daemonize -pidfile "$RUN/vm$k.pid"
  done
  for k in $(seq "$count"); do
    for _ in $(seq 300); do
      ssh "${SSH_OPTS[@]}" -p $((2200 + k)) root@127.0.0.1 true 2>/dev/null && break
      sleep 1
    done
    ssh "${SSH_OPTS[@]}" -p $((2200 + k)) root@127.0.0.1 true || {
      echo "vm$k did not answer SSH; its console:" >&2; tail -30 "$RUN/vm$k.console" >&2; exit 1; }
  done
}

down() {
  local pidfile pid
  for pidfile in "$RUN"/vm*.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  rm -rf "$RUN"
  for k in $(ip -o link show | sed -n 's/^[0-9]*: vmt\([0-9]*\).*/\1/p'); do ip link del "vmt$k"; done
}

run() {
  local rc=0
  image  # first: the namespace has no way to the mirror
  ip netns add "$NS" 2>/dev/null || { down_ns; ip netns add "$NS"; }
  ip -n "$NS" link set lo up
  ip -n "$NS" link add seg type bridge && ip -n "$NS" link set seg up
  ip netns exec "$NS" "$@" || rc=$?
  down_ns
  return $rc
}

down_ns() {
  # Every process left in the namespace (VMs included), then the namespace itself.
  local pid
  for pid in $(ip netns pids "$NS" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
  rm -rf "$RUN"
  ip netns del "$NS" 2>/dev/null || true
}

capture() {
  local count=${1:?count} filter=${2:?filter} k=${3:?K} out
  shift 3
  in_segment
  out=$(mktemp)
  timeout 25 tcpdump -l -c "$count" -e -nn -i seg "$filter" >"$out" 2>/dev/null &
  sleep 2  # tcpdump is listening
  if "$0" ssh "$k" "$@"; then echo PROBE-OK; else echo PROBE-FAILED; fi
  wait || true
  cat "$out" && rm -f "$out"
}

case ${1:-} in
  image) image ;;  # vm-image.sh
  run) shift; run "$@" ;;
  up) up "${2:-}" ;;
  down) down ;;
  ssh) k=${2:?K}; shift 2; exec ssh "${SSH_OPTS[@]}" -p $((2200 + k)) root@127.0.0.1 "$@" ;;
  capture) shift; capture "$@" ;;
  *) echo "usage: vm.sh image | run CMD... | up COUNT | down | ssh K CMD... | capture COUNT FILTER K CMD..." >&2; exit 2 ;;
esac
