#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Watch an underlay interface and report the VXLAN traffic on it, as JSON.

Usage: vxlan_sniff.py IFACE SECONDS [PORT]

Prints "ready" once listening, then after SECONDS one JSON line: the number of
frames that were UDP to PORT (default 4789), of other IPv4 frames, and each
(VNI, inner source, inner destination, inner protocol) seen inside the VXLAN ones.
"""

import json
import socket
import struct
import sys
import time


def main():
    iface, seconds = sys.argv[1], float(sys.argv[2])
    port = int(sys.argv[3]) if len(sys.argv) > 3 else 4789
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))  # ETH_P_ALL
    sock.bind((iface, 0))
    sock.settimeout(0.2)
    print("ready", flush=True)
    vxlan, other, inner = 0, 0, set()
    end = time.time() + seconds
    while time.time() < end:
        try:
            frame = sock.recv(65535)
        except socket.timeout:
            continue
        if len(frame) < 34 or frame[12:14] != b"\x08\x00":
            continue
        ihl = (frame[14] & 0x0F) * 4
        udp = 14 + ihl
        if frame[23] == 17 and struct.unpack("!H", frame[udp + 2:udp + 4])[0] == port:
            vxlan += 1
            vni = struct.unpack("!I", frame[udp + 12:udp + 16])[0] >> 8
            payload = frame[udp + 16:]  # the inner Ethernet frame
            if len(payload) >= 34 and payload[12:14] == b"\x08\x00":
                inner.add((vni, socket.inet_ntoa(payload[26:30]), socket.inet_ntoa(payload[30:34]), payload[23]))
        else:
            other += 1
    print(json.dumps({"vxlan": vxlan, "other": other, "inner": sorted(inner)}), flush=True)


if __name__ == "__main__":
    main()
