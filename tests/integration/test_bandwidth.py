# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Endpoint bandwidth: token buckets on the host side, measured by real transfers each way."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from ansible_collections.cnm.fabric.plugins.module_utils import names
from test_macvlan import network, wire  # pylint: disable=import-error

PORT = 7100
SECONDS = 3
# One connection, read to its end: the rate between the first byte and the last, in bits/s.
RECEIVER = textwrap.dedent("""
    import socket, sys, time
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", int(sys.argv[1])))
    s.listen(1)
    print("ready", flush=True)
    c, _ = s.accept()
    first, total, last = None, 0, None
    while True:
        data = c.recv(1 << 16)
        if not data:
            break
        now = time.monotonic()
        if first is None:
            first = now
        else:
            total += len(data)
        last = now
    print(8 * total / (last - first))
""")
SENDER = textwrap.dedent("""
    import socket, sys, time
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
    chunk, end = b"x" * (1 << 16), time.monotonic() + float(sys.argv[3])
    while time.monotonic() < end:
        s.sendall(chunk)
    s.close()
""")


def transfer(host, sender_ns, receiver_ns, address):
    """Bits per second of a TCP transfer of a few seconds from ``sender_ns`` to ``address`` in
    ``receiver_ns`` (None: the host)."""
    receiver = subprocess.Popen(host.enter(receiver_ns) + [sys.executable, "-c", RECEIVER, str(PORT)],
                                stdout=subprocess.PIPE, text=True)
    try:
        assert receiver.stdout.readline().strip() == "ready"
        sent = host.sh([sys.executable, "-c", SENDER, address, str(PORT), str(SECONDS)], sender_ns)
        assert sent.returncode == 0, sent.stderr
        rate = float(receiver.communicate(timeout=30)[0])
        print("%s to %s: %.2f Mbit/s" % (sender_ns or "the host", receiver_ns or "the host", rate / 1e6))
        return rate
    finally:
        receiver.kill()
        receiver.wait()


def near(measured, limit):
    """Within 15 % of the limit (TCP's own headers take some 4 % of a frame)."""
    return 0.85 * limit <= measured <= 1.15 * limit


def test_each_direction_is_shaped_to_its_rate_and_changed_in_place(host):
    host.converge("cnm_network", name="lan", subnet="10.86.0.0/24")
    sb = host.sb("app")
    args = dict(name="app", network="lan", sandbox=sb)
    made = host.converge("cnm_endpoint", **args)
    address = made["endpoint"]["ipv4_address"]
    free = transfer(host, None, sb, address)
    assert free > 100e6, "unlimited without bandwidth: %.0f bit/s" % free

    shaped = dict(args, bandwidth={"ingress_rate": "20mbit", "egress_rate": "10mbit", "egress_burst": "64kb"})
    veth = made["endpoint"]["veth"]["host_interface"]
    planned = host.ok("cnm_endpoint", check=True, **shaped)
    assert planned["changes"][0] == "shape what goes into %s to 20mbit (burst 32kb) on %s" % (sb, veth), planned
    assert "tbf" not in host.sh(["tc", "qdisc", "show"]).stdout, "check mode changes nothing"
    changed = host.converge("cnm_endpoint", diff=True, **shaped)
    assert changed["endpoint"]["bandwidth"] == {"ingress_rate": 20000000, "ingress_burst": 32768,
                                                "egress_rate": 10000000, "egress_burst": 65536}, changed
    assert changed["diff"]["before"]["bandwidth"] is None and changed["diff"]["after"]["bandwidth"]["egress_rate"]
    into, out = transfer(host, None, sb, address), transfer(host, sb, None, "10.86.0.1")
    assert near(into, 20e6), "into the sandbox: %.0f bit/s" % into
    assert near(out, 10e6), "out of it: %.0f bit/s" % out

    # In place: the rate out of the sandbox changes, the rest stays.
    slower = dict(args, bandwidth=dict(shaped["bandwidth"], egress_rate="5mbit"))
    again = host.converge("cnm_endpoint", **slower)
    ifb = again["changes"][0].split()[-1]
    assert again["changes"] == ["shape what %s sends to 5mbit (burst 64kb) on %s" % (sb, ifb)], again
    out = transfer(host, sb, None, "10.86.0.1")
    assert near(out, 5e6), "out of it: %.0f bit/s" % out

    # Drift: a bucket taken off by hand is reported, then put back.
    host.sh(["tc", "qdisc", "del", "dev", veth, "root"])
    drift = [d["problem"] for d in host.ok("cnm_info")["drift"]]
    assert drift == ["shape what goes into %s to 20mbit (burst 32kb) on %s" % (sb, veth)], drift
    host.converge("cnm_endpoint", **slower)
    assert host.ok("cnm_info")["drift"] == []

    # Taken out: no bucket, no ifb, unlimited again.
    plain = host.converge("cnm_endpoint", **dict(args, bandwidth={"ingress_rate": "20mbit"}))
    assert any(line.startswith("delete ifb") for line in plain["changes"]), plain
    assert "cnmb" not in " ".join(host.links())
    assert transfer(host, sb, None, "10.86.0.1") > 100e6
    host.converge("cnm_endpoint", name="app", network="lan", state="absent")
    assert "tbf" not in host.sh(["tc", "qdisc", "show"]).stdout


def test_the_ifb_goes_with_its_endpoint_and_a_veth_made_again_is_shaped_again(host):
    host.converge("cnm_network", name="lan", subnet="10.87.0.0/24")
    args = dict(name="app", network="lan", sandbox=host.sb("app"), bandwidth={"egress_rate": "1gbit"})
    made = host.converge("cnm_endpoint", **args)
    veth = made["endpoint"]["veth"]["host_interface"]
    ifb = [link for link in host.links() if link.startswith("cnmb")]
    assert len(ifb) == 1, host.links()
    host.sh(["ip", "link", "del", veth])
    repaired = host.ok("cnm_endpoint", **args)
    assert "redirect what %s sends from %s to %s" % (host.sb("app"), veth, ifb[0]) in repaired["changes"], repaired
    assert "mirred (Egress Redirect to device %s)" % ifb[0] in host.sh(["tc", "filter", "show", "dev", veth,
                                                                       "ingress"]).stdout
    assert host.ok("cnm_endpoint", **args)["changed"] is False
    assert names.owner_tag(host.state_dir) in host.sh(["ip", "link", "show", ifb[0]]).stdout, "marked as the state_dir's"
    assert host.ok("cnm_prune", check=True)["removed"]["links"] == [], "the ifb is the endpoint's, no orphan"
    host.converge("cnm_endpoint", name="app", network="lan", state="absent")
    assert not [link for link in host.links() if link.startswith(("cnmb", "cnmv"))], host.links()


def test_bandwidth_needs_a_side_on_the_host_and_a_burst_of_a_frame(host):
    wire(host)
    host.converge("cnm_network", **network(host))
    refused = host.run("cnm_endpoint", name="m", network="lan", sandbox=host.sb("m"), bandwidth={"egress_rate": "1mbit"})
    assert refused["failed"] and refused["option"] == "bandwidth" and "no side on the host" in refused["msg"], refused
    host.converge("cnm_network", name="jumbo", subnet="10.88.0.0/24", mtu=9000)
    refused = host.run("cnm_endpoint", name="j", network="jumbo", sandbox=host.sb("j"),
                       bandwidth={"ingress_rate": "1gbit", "ingress_burst": "8kb"})
    assert refused["failed"] and refused["option"] == "bandwidth.ingress_burst" and "9014" in refused["msg"], refused
