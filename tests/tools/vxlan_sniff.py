# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a command while watching an underlay interface; report the VXLAN traffic, as JSON.

Usage: vxlan_sniff.py IFACE [--port 4789] [--seconds 5] -- COMMAND...

Listens on IFACE, runs COMMAND, and stops when it has ended (or after SECONDS). Prints
one JSON object: the command's output and exit code, the number of frames that were
UDP to PORT and of other IPv4 frames, and each (VNI, inner source, inner destination,
inner IP protocol) seen inside the VXLAN ones.
"""

import argparse
import json
import socket
import struct
import subprocess
import time


def inner_packet(frame, port):
    """(VNI, src, dst, proto) of a VXLAN frame's inner IPv4 packet, True for other VXLAN, None."""
    if len(frame) < 34 or frame[12:14] != b"\x08\x00" or frame[23] != 17:
        return None
    udp = 14 + (frame[14] & 0x0F) * 4
    if struct.unpack("!H", frame[udp + 2:udp + 4])[0] != port:
        return None
    vni = struct.unpack("!I", frame[udp + 12:udp + 16])[0] >> 8
    inner = frame[udp + 16:]  # the inner Ethernet frame
    if len(inner) >= 34 and inner[12:14] == b"\x08\x00":
        return (vni, socket.inet_ntoa(inner[26:30]), socket.inet_ntoa(inner[30:34]), inner[23])
    return True


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("iface")
    parser.add_argument("--port", type=int, default=4789)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("command", nargs="+")
    args = parser.parse_args()
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))  # ETH_P_ALL
    sock.bind((args.iface, 0))
    sock.settimeout(0.1)
    proc = subprocess.Popen(args.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    vxlan, other, seen = 0, 0, set()
    end = time.time() + args.seconds
    while time.time() < end and proc.poll() is None:
        try:
            frame = sock.recv(65535)
        except socket.timeout:
            continue
        found = inner_packet(frame, args.port)
        if found is None:
            other += frame[12:14] == b"\x08\x00"
        else:
            vxlan += 1
            if found is not True:
                seen.add(found)
    if proc.poll() is None:
        proc.kill()
    output = proc.communicate()[0]
    print(json.dumps({"returncode": proc.returncode, "output": output.strip(), "vxlan": vxlan,
                      "other": other, "inner": sorted(seen)}))


if __name__ == "__main__":
    main()
