#!/usr/bin/env bash
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# The recipe of the vm_fleet scenario's disk image (run by `vm.sh image`, which names
# DIR, IMAGE and KEY): Debian 12 from Debian's packages with debootstrap, from the mirror
# this machine's apt sources name; Debian's cloud kernel and its initramfs beside the disk,
# for qemu's -kernel and -initrd; root's SSH key; networking from the kernel command line.
# Changing this file changes the image's name, so the next run builds it again.
set -euo pipefail

PACKAGES=linux-image-cloud-amd64,systemd-sysv,kmod,openssh-server,python3,python3-pyroute2,python3-netaddr,iproute2,nftables,tcpdump,iputils-ping,netcat-openbsd,containernetworking-plugins

mirror() {
  # The Debian mirror this machine's apt sources already name (deb822 or one-line format).
  local uri
  uri=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null |
        grep -v security | head -1 || true)
  [ -n "$uri" ] || uri=$(awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [ -n "$uri" ] || { echo "no Debian mirror named in /etc/apt/sources*" >&2; exit 1; }
  echo "$uri"
}

build() {
  local root=$DIR/root-$$ t0=$SECONDS
  mkdir -p "$DIR" && rm -rf "$DIR"/image-* "$DIR"/root-*
  trap "rm -rf '$root'" EXIT
  [ -f "$KEY" ] || ssh-keygen -q -t ed25519 -N "" -f "$KEY"
  debootstrap --variant=minbase --include="$PACKAGES" bookworm "$root" "$(mirror)" >"$DIR/debootstrap.log" 2>&1 ||
    { tail -20 "$DIR/debootstrap.log" >&2; exit 1; }
  install -d -m 0700 "$root/root/.ssh"
  install -m 0600 "$KEY.pub" "$root/root/.ssh/authorized_keys"
  echo "cnm-vm" > "$root/etc/hostname"
  # minbase has no /etc/hosts, which `ip netns exec` needs to bind a sandbox's hosts file over.
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$root/etc/hosts"
  # Networking without DHCP or udev: a oneshot from the kernel's command line.
  cat > "$root/usr/local/sbin/cnm-vm-net" <<'EOF'
#!/bin/sh
underlay=$(sed -n 's/.*cnm.underlay=\([^ ]*\).*/\1/p' /proc/cmdline)
ip link set lo up
ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0
ip link set eth1 up && ip addr add "$underlay" dev eth1
EOF
  chmod 0755 "$root/usr/local/sbin/cnm-vm-net"
  cat > "$root/etc/systemd/system/cnm-vm-net.service" <<'EOF'
[Unit]
Description=cnm.fabric test VM networking
# As a host's networking.service is: network.target means the interfaces are configured.
Before=network.target ssh.service
Wants=network.target
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/cnm-vm-net
RemainAfterExit=yes
[Install]
WantedBy=multi-user.target
EOF
  ln -sf /etc/systemd/system/cnm-vm-net.service "$root/etc/systemd/system/multi-user.target.wants/cnm-vm-net.service"
  printf 'UseDNS no\n' > "$root/etc/ssh/sshd_config.d/cnm.conf"
  rm -f "$root"/var/cache/apt/archives/*.deb
  mkdir -p "$IMAGE"
  cp "$root"/boot/vmlinuz-* "$IMAGE/vmlinuz" && cp "$root"/boot/initrd.img-* "$IMAGE/initrd.img"
  mkfs.ext4 -q -F -L root -d "$root" "$IMAGE/disk.raw" 2G
  qemu-img convert -O qcow2 "$IMAGE/disk.raw" "$IMAGE/disk.qcow2" && rm "$IMAGE/disk.raw"
  touch "$IMAGE/done"
  echo "image built in $((SECONDS - t0)) s: $IMAGE"
}

build
