# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess

import pytest

from ansible_collections.cnm.fabric.plugins.module_utils import firewall, sandbox
from ansible_collections.cnm.fabric.plugins.module_utils.errors import CnmWarning, KernelError, StoreError
from ansible_collections.cnm.fabric.plugins.module_utils.run import Run
from ansible_collections.cnm.fabric.plugins.module_utils.store import Store
from ansible_collections.cnm.fabric.tests.unit.plans import nested


def test_store_writes_only_what_changed_atomically_under_a_lock(tmp_path):
    d = str(tmp_path / "state")
    with Store(d) as s:
        assert s.get("networks") == {} and s.dirty() == []
        s.get("networks")["a"] = {"x": 1}
        assert s.dirty() == ["networks"]
        fd = os.open(os.path.join(d, ".lock"), os.O_RDWR)
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.close(fd)
        s.save()
        assert s.dirty() == []
    assert json.load(open(os.path.join(d, "networks.json"))) == {"a": {"x": 1}}
    assert not [f for f in os.listdir(d) if f.startswith(".tmp-")]
    with Store(d) as s:
        assert s.get("ipam-local", empty={"pools": {}}) == {"pools": {}} and s.dirty() == []


def test_read_only_store_creates_nothing(tmp_path):
    d = str(tmp_path / "absent")
    with Store(d, read_only=True) as s:
        s.get("networks")["a"] = {}
    assert not os.path.exists(d)


def test_damaged_file_is_named_and_never_replaced(tmp_path):
    d = tmp_path / "state"
    d.mkdir()
    (d / "networks.json").write_text("[1, 2")
    with Store(str(d)) as s:
        with pytest.raises(StoreError) as e:
            s.get("networks")
    assert str(d / "networks.json") in e.value.msg and "move it aside" in e.value.msg
    assert (d / "networks.json").read_text() == "[1, 2"


FLAT_NETS = {
    "a": {"name": "a", "driver": "bridge", "interface": "cnm-a", "subnet": "10.1.0.0/24", "internal": False,
          "masquerade": True, "icc": False, "host_binding_ip": "0.0.0.0"},
    "b": {"name": "b", "driver": "bridge", "interface": "cnm-b", "subnet": "10.2.0.0/24", "internal": False,
          "masquerade": False, "icc": True, "host_binding_ip": "127.0.0.1"},
    "v": {"name": "v", "driver": "bridge", "interface": "cnm-v", "subnet": "10.3.0.0/24", "internal": True,
          "masquerade": True, "icc": True, "host_binding_ip": "0.0.0.0"},
    "h": {"name": "h", "driver": "host"},
}
FLAT_EPS = {
    "a/x": {"name": "x", "network": "a", "sandbox": "x", "ipv4_address": "10.1.0.2", "host_interface": "cnmv1",
            "publish": [{"host_port": 80, "container_port": 8080, "protocol": "tcp", "host_ip": None}]},
    "a/y": {"name": "y", "network": "a", "sandbox": "y", "ipv4_address": "10.1.0.3", "host_interface": "cnmv2",
            "aliases": ["why"], "publish": []},
    "b/x": {"name": "x", "network": "b", "sandbox": "x", "ipv4_address": "10.2.0.2", "host_interface": "cnmv3",
            "publish": [{"host_port": 53, "container_port": 53, "protocol": "udp", "host_ip": None}]},
    "v/z": {"name": "z", "network": "v", "sandbox": "z", "ipv4_address": "10.3.0.2", "host_interface": "cnmv4",
            "publish": [{"host_port": 99, "container_port": 99, "protocol": "tcp", "host_ip": None}]},
}
NETS = dict((name, nested(net)) for name, net in FLAT_NETS.items())
EPS = dict((key, nested(ep)) for key, ep in FLAT_EPS.items())


def test_firewall_render():
    text = firewall.render(NETS, EPS)
    assert 'ip saddr 10.1.0.0/24 oifname != "cnm-a" masquerade' in text
    assert 'ip saddr 10.2.0.0/24 oifname != "cnm-b" masquerade' not in text, "masquerade: false"
    assert 'iifname "cnm-v" oifname != "cnm-v" drop' in text and 'oifname "cnm-v" iifname != "cnm-v" drop' in text
    assert 'iifname { "cnm-a", "cnm-b" } oifname { "cnm-a", "cnm-b" } iifname . oifname != { "cnm-a" . "cnm-a", ' \
        '"cnm-b" . "cnm-b" } drop' in text, "each network apart from the others, internal ones aside"
    assert 'iifname { "cnmv1", "cnmv2" } drop' in text, "icc: false on a"
    # Published ports are map elements, looked up by one rule per map in prerouting and output.
    assert "map published_ip {\n\t\ttype inet_proto . inet_service : ipv4_addr . inet_service\n" \
        "\t\telements = { tcp . 80 : 10.1.0.2 . 8080 }\n" in text
    assert "elements = { 127.0.0.1 . udp . 53 : 10.2.0.2 . 53 }" in text
    assert "set published_ports {\n\t\ttype inet_proto . inet_service\n\t\telements = { tcp . 80 }\n" in text
    assert text.count("meta nfproto ipv4 meta l4proto . th dport @published_ports fib daddr type local "
                      "dnat ip to meta l4proto . th dport map @published_ip\n") == 2
    assert text.count("meta nfproto ipv4 dnat ip to ip daddr . meta l4proto . th dport map @published_at_ip\n") == 2
    assert text.index("@published_at_ip\n") < text.index("@published_ip\n"), "one address before all addresses"
    assert " 99" not in text and "published_ip6" not in text, "nothing is published from an internal network"
    assert firewall.render({"h": NETS["h"]}, {}) == ""


def test_gateway_modes_render():
    """nat protects the endpoints' addresses, routed opens only published container ports and maps
    no host port, isolated lets nothing across the bridge, nat-unprotected adds nothing."""
    text = firewall.render(NETS, EPS)
    assert 'oifname "cnm-a" ip daddr 10.1.0.0/24 iifname != { "cnm-a" } ct state new ct status & dnat == 0 drop' in text
    assert 'iifname != "lo" ip daddr 127.0.0.0/8 return' in text.split("chain prerouting")[1].split("}")[0]
    assert "return" not in text.split("chain output")[1].split("}")[0], "the host's own packets are DNATed"
    nets = dict(NETS, a=nested(FLAT_NETS["a"], gateway_mode="routed", trusted_host_interfaces=["mgmt0"]))
    routed = firewall.render(nets, EPS)
    assert 'elements = { "cnm-a" . 10.1.0.2 . tcp . 8080 }' in routed
    assert "oifname . ip daddr . meta l4proto . th dport @routed_ip accept" in routed
    assert 'iifname != { "cnm-a", "mgmt0" } ct state new' in routed
    assert "10.1.0.2 . 8080" not in routed and 'ip saddr 10.1.0.0/24 oifname != "cnm-a" masquerade' not in routed
    isolated = firewall.render(dict(NETS, a=nested(FLAT_NETS["a"], gateway_mode="isolated")), EPS)
    assert 'meta nfproto ipv4 iifname "cnm-a" oifname != "cnm-a" drop' in isolated
    assert 'iifname { "cnm-b", "cnm-v" } ct state new fib saddr' in isolated, "no source check where no route is"
    unprotected = firewall.render(dict(NETS, a=nested(FLAT_NETS["a"], gateway_mode="nat-unprotected")), EPS)
    assert 'oifname "cnm-a" ip daddr 10.1.0.0/24' not in unprotected


def test_an_ipv6_only_network_brings_no_ipv4_rule():
    six = nested({"name": "s", "driver": "bridge", "interface": "cnm-s", "subnet": None, "ipv4": False, "ipv6": True,
                  "ipv6_subnet": "fd00:5::/64", "internal": False, "masquerade": True, "masquerade_ipv6": True,
                  "icc": True, "host_binding_ip": "0.0.0.0"})
    ep = nested({"name": "x", "network": "s", "sandbox": "x", "ipv4_address": None, "ipv6_address": "fd00:5::2",
                 "host_interface": "cnmv9",
                 "publish": [{"host_port": 80, "container_port": 8080, "protocol": "tcp", "host_ip": None}]})
    text = firewall.render({"s": six}, {"s/x": ep})
    assert 'ip6 saddr fd00:5::/64 oifname != "cnm-s" masquerade' in text
    assert "elements = { tcp . 80 : fd00:5::2 . 8080 }" in text and "map published_ip {" not in text
    assert "ip saddr" not in text and "nfproto ipv4" not in text.split("chain postrouting")[0].split("chain raw")[1]


@pytest.mark.parametrize("name", ['acs"#q', "a b", "x;y", "br{0}", "a\nb", "w\u00e9b", "$x", "a@b"])
def test_no_recorded_name_can_change_a_rule(name):
    """A record written by hand or by an older release with an interface name nft would read as
    more than a name: the render stops, naming it, rather than write a rule that means something else."""
    nets = dict(NETS, a=nested(FLAT_NETS["a"], interface=name))
    with pytest.raises(KernelError) as e:
        firewall.render(nets, EPS)
    assert repr(name) in str(e.value)


def test_hosts_and_resolv():
    hosts = sandbox.render_hosts(EPS, "x")
    assert "10.1.0.2\tx\n10.1.0.3\ty why\n10.2.0.2\tx\n" in hosts, "both networks x joins, in address order"
    assert "10.3.0.2" not in hosts
    resolv = sandbox.render_resolv("nameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch example.org\n# c\noptions edns0\n")
    assert resolv.splitlines()[1:] == ["nameserver 10.0.0.2", "search example.org", "options edns0"]


def test_resolv_conf_behind_systemd_resolved(tmp_path):
    """A host whose resolv.conf lists only resolved's stub gives sandboxes the servers behind it."""
    stub, behind = tmp_path / "resolv.conf", tmp_path / "resolved.conf"
    stub.write_text("nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch corp.example\n")
    behind.write_text("nameserver 192.0.2.53\nnameserver 2001:db8::53\nsearch corp.example\n")
    key = "/proc/1/ns/net"
    eps = {"n/a": {"name": "a", "network": "n", "sandbox": key, "ipv4_address": "10.1.0.2"}}
    state_dir = str(tmp_path / "state")
    done = sandbox.sync(state_dir, eps, {key: {}}, {key}, False, resolv_files=(str(stub), str(behind)))
    resolv = open([d[len("write "):] for d in done if d.endswith("resolv.conf")][0]).read()
    assert resolv.splitlines()[1:] == ["nameserver 192.0.2.53", "nameserver 2001:db8::53", "search corp.example"]
    assert str(behind) in resolv.splitlines()[0]
    # Without resolved's file, the stub is left out and nothing takes its place.
    assert sandbox.host_resolv(str(stub), str(tmp_path / "absent")) == (str(stub), stub.read_text())
    # A host with a usable resolver keeps its own file.
    stub.write_text("nameserver 127.0.0.53\nnameserver 198.51.100.1\n")
    assert sandbox.host_resolv(str(stub), str(behind))[0] == str(stub)


def test_two_phase_save_and_rollback(tmp_path):
    d = str(tmp_path / "state")
    with Store(d) as s:
        s.get("endpoints").update({"n/a": {"x": 1}, "n/b": {"x": 2}})
        s.save()
    path = os.path.join(d, "endpoints.json")
    with Store(d) as s:
        records = s.get("endpoints")
        del records["n/a"]
        records["n/c"] = {"x": 3}
        s.save(keep_removed=True)
        assert sorted(json.load(open(path))) == ["n/a", "n/b", "n/c"], "removed only after the apply"
        s.save()
        assert sorted(json.load(open(path))) == ["n/b", "n/c"]
    with Store(d) as s:
        s.get("endpoints")["n/d"] = {"x": 4}
        s.save(keep_removed=True)
        inode = os.stat(path).st_ino
        s.save()
        assert os.stat(path).st_ino == inode, "nothing removed: no second write"
    with Store(d) as s:
        s.get("endpoints")["n/e"] = {"x": 5}
        s.save(keep_removed=True)
        s.rollback()
    assert sorted(json.load(open(path))) == ["n/b", "n/c", "n/d"], "a failed apply leaves the records as read"


def test_graph_draws_networks_sandboxes_endpoints_peers_and_ports():
    from ansible_collections.cnm.fabric.plugins.module_utils.info import graph
    facts = {
        "networks": {
            "pets": nested({"name": "pets", "driver": "bridge", "subnet": "172.17.0.0/16", "gateway": "172.17.0.1",
                            "interface": "cnm-pets"}),
            "fab": nested({"name": "fab", "driver": "overlay", "subnet": "10.0.0.0/24", "gateway": "10.0.0.1",
                           "interface": "cnm-fab", "vxlan_interface": "cnmxabc", "vni": 42, "local_ip": "192.0.2.1",
                           "underlay_interface": "eth0", "peers": {"192.0.2.2": [{"name": "db", "ip": "10.0.0.3"}]}})},
        "sandboxes": {"web": {}},
        "endpoints": {"pets/web": {"name": "web", "network": "pets", "sandbox": "web", "ifname": "eth0",
                                   "ipv4_address": "172.17.0.2",
                                   "publish": [{"host_port": 8000, "container_port": 5000, "protocol": "tcp"}]},
                      "fab/web": {"name": "web", "network": "fab", "sandbox": "web", "ifname": "eth1",
                                  "ipv4_address": "10.0.0.2", "publish": []}}}
    dot = graph(facts)
    assert '"sb/web" -- "net/pets" [label="eth0 172.17.0.2"]' in dot
    assert '"net/fab" [label="cnm-fab' in dot and '"dev/fab/cnmxabc" [label="cnmxabc\\nVNI 42, 192.0.2.1"' in dot
    assert '"dev/fab/cnmxabc" -- "peer/fab/192.0.2.2"' in dot and "db 10.0.0.3" in dot
    assert 'host -- "sb/web" [label="*:8000/tcp -> 5000"' in dot
    if shutil.which("dot"):  # graphviz reads it
        out = subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True, text=True, check=False)
        assert out.returncode == 0 and "<svg" in out.stdout, out.stderr


def test_a_leftover_sandbox_directory_goes_whole(tmp_path):
    """What prune removes for a sandbox with no record: its hosts files, the service rules kept
    for it under the state directory, a killed write's temporary file, then the directory;
    anything else of someone else's keeps the directory."""
    state_dir = str(tmp_path / "state")
    key = "/proc/1/ns/net"
    directory = sandbox.files_dir(state_dir, key)
    assert os.path.dirname(sandbox.rules_path(state_dir, key)) == directory
    os.makedirs(directory)
    for name in ("hosts", "resolv.conf", sandbox.RULES_FILE, ".tmp-killed"):
        open(os.path.join(directory, name), "w").close()
    assert sandbox.leftovers(state_dir, {})[0] == [directory]
    sandbox.remove_files(directory, state_dir)
    assert not os.path.exists(directory)
    os.makedirs(directory)
    open(os.path.join(directory, "theirs"), "w").close()
    sandbox.remove_files(directory, state_dir)
    assert os.listdir(directory) == ["theirs"]


class _NoConntrack(object):
    """A kernel whose conntrack cannot be changed; nothing else is asked of it here."""
    learned: dict = {}

    def flush(self, final=False):
        pass

    def close(self):
        pass

    def conntrack_forget(self, flows):
        raise KernelError("conntrack said no")


def test_connections_not_forgotten_are_a_warning_not_a_failure(tmp_path):
    """The run's changes are applied and recorded by then: failing it would hide that."""
    with Run(str(tmp_path / "state"), False, kernel=_NoConntrack()) as run:
        run.forget.append(("10.0.0.2", "udp", 5353, 5353))
        with pytest.warns(CnmWarning, match="conntrack said no; clients of the removed"):
            run.finish()
