# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bridge networks and endpoints against the real kernel, checked with real packets."""

from __future__ import annotations

import concurrent.futures
import json
import os

from ansible_collections.cnm.fabric.plugins.module_utils import names


def test_network_lifecycle_check_diff_and_in_place_updates(host):
    before = host.snapshot()
    planned = host.ok("cnm_network", name="pets", check=True, diff=True)
    assert planned["changed"] is True
    assert "create bridge cnm-pets (mtu 1500, 02:42:ac:11:00:01)" in planned["changes"]
    assert host.snapshot() == before, "check mode must create nothing"
    assert not os.path.exists(host.state_dir)

    made = host.converge("cnm_network", name="pets", diff=True)
    assert made["network"]["subnet"] == "172.17.0.0/16"
    assert made["network"]["gateway"] == "172.17.0.1"
    assert made["diff"] == {"before": {}, "after": made["network"]}
    assert "cnm-pets" in host.links()
    assert "172.17.0.1/16" in host.sh(["ip", "-o", "addr", "show", "cnm-pets"]).stdout
    assert host.sh(["cat", "/proc/sys/net/ipv4/ip_forward"]).stdout.strip() == "1"
    assert "table inet %s " % host.table in host.nft() and "table bridge %s " % host.table in host.nft()
    assert made["network"] == planned["network"], "check mode reports what a real run makes"

    # A second network takes the next default pool, never an overlapping one.
    other = host.converge("cnm_network", name="other")
    assert other["network"]["subnet"] == "172.18.0.0/16"

    # The link's index, read in the host's namespace (/sys/class/net is the machine's own).
    index = host.sh(["ip", "-o", "link", "show", "cnm-pets"]).stdout.split(":")[0]
    updated = host.converge("cnm_network", name="pets", mtu=1400, diff=True,
                            bridge={"icc": False, "masquerade": False, "host_binding_ip": "127.0.0.1"})
    assert updated["diff"]["before"]["mtu"] == 1500 and updated["diff"]["after"]["mtu"] == 1400
    assert updated["diff"]["after"]["bridge"]["icc"] is False
    assert "mtu 1400" in host.sh(["ip", "link", "show", "cnm-pets"]).stdout
    assert host.sh(["ip", "-o", "link", "show", "cnm-pets"]).stdout.split(":")[0] == index, "changed in place"
    rules = host.nft()
    assert 'ip saddr 172.17.0.0/16 oifname != "cnm-pets" masquerade' not in rules

    gone = host.converge("cnm_network", name="pets", state="absent", diff=True)
    assert gone["diff"]["after"] == {} and gone["network"] == {}
    assert "cnm-pets" not in host.links()
    host.converge("cnm_network", name="other", state="absent")
    assert "table inet %s " % host.table not in host.nft(), "no network left: the tables go too"


def test_endpoints_reach_each_other_and_resolve_names(host):
    host.converge("cnm_network", name="pets", subnet="10.77.0.0/24")
    db, web = host.sb("db"), host.sb("web")
    before = host.snapshot()
    plan = host.ok("cnm_endpoint", name="db", network="pets", sandbox=db, check=True)
    assert plan["changed"] and plan["endpoint"]["ipv4_address"] == "10.77.0.2"
    assert host.snapshot() == before, "check mode must create nothing"

    first = host.converge("cnm_endpoint", name="db", network="pets", sandbox=db, diff=True)
    ep = first["endpoint"]
    assert ep == dict(plan["endpoint"], hosts_file="/etc/netns/%s/hosts" % db)
    assert ep["ifname"] == "eth0" and ep["mac_address"] == "02:42:0a:4d:00:02"
    assert ep["default_route"] is True
    assert first["diff"]["before"] == {}
    host.converge("cnm_endpoint", name="web", network="pets", sandbox=web, aliases=["www"])

    assert host.ping(web, "db") and host.ping(db, "www") and host.ping(db, "10.77.0.1")
    with open("/etc/netns/%s/hosts" % db) as f:
        hosts = f.read()
    assert "10.77.0.2\tdb\n" in hosts and "10.77.0.3\tweb www\n" in hosts
    assert "nameserver 127." not in open("/etc/netns/%s/resolv.conf" % db).read()
    route = host.sh(["ip", "route", "show", "default"], web).stdout
    assert "default via 10.77.0.1 dev eth0" in route
    assert host.sh(["cat", "/sys/class/net/eth0/address"], db).stdout.strip() == "02:42:0a:4d:00:02"

    info = host.ok("cnm_info")
    assert info["drift"] == [] and sorted(info["endpoints"]) == ["pets/db", "pets/web"]
    assert info["pools"]["local"]["pets"]["addresses"] == {"db": "10.77.0.2", "web": "10.77.0.3"}

    # Leaving releases the address and removes the sandbox the collection made.
    host.converge("cnm_endpoint", name="web", network="pets", state="absent")
    assert web not in os.listdir("/run/netns") and not os.path.exists("/etc/netns/" + web)
    assert "web" not in open("/etc/netns/%s/hosts" % db).read()
    again = host.ok("cnm_endpoint", name="web2", network="pets", sandbox=web)
    assert again["endpoint"]["ipv4_address"] == "10.77.0.4", "round-robin: .3 is not reused yet"


def test_endpoint_options_change_in_place(host):
    host.converge("cnm_network", name="n1", subnet="10.78.0.0/24", bridge={"hairpin": False})
    sb = host.sb("app")
    host.converge("cnm_endpoint", name="app", network="n1", sandbox=sb)
    index = host.sh(["cat", "/sys/class/net/eth0/ifindex"], sb).stdout
    changed = host.converge("cnm_endpoint", name="app", network="n1", sandbox=sb, ifname="app0",
                            ipv4_address="10.78.0.50", mac_address="02:00:00:00:00:50",
                            aliases=["api"], diff=True)
    assert changed["diff"]["before"]["ipv4_address"] == "10.78.0.2"
    assert changed["diff"]["after"]["ipv4_address"] == "10.78.0.50"
    link = host.sh(["ip", "-o", "addr", "show", "app0"], sb).stdout
    assert "10.78.0.50/24" in link and "10.78.0.2/" not in link
    assert host.sh(["cat", "/sys/class/net/app0/ifindex"], sb).stdout == index, "same link, renamed"
    assert "02:00:00:00:00:50" in host.sh(["ip", "link", "show", "app0"], sb).stdout
    assert "default via 10.78.0.1 dev app0" in host.sh(["ip", "route"], sb).stdout
    assert host.ping(sb, "api")
    host.converge("cnm_endpoint", name="app", network="n1", sandbox=sb, ifname="app0",
                  ipv4_address="10.78.0.50", mac_address="02:00:00:00:00:50", default_route=False)
    assert "default" not in host.sh(["ip", "route"], sb).stdout
    # Network-wide changes reach the endpoints in place too.
    host.converge("cnm_network", name="n1", subnet="10.78.0.0/24", mtu=1280, bridge={"hairpin": True})
    assert "mtu 1280" in host.sh(["ip", "link", "show", "app0"], sb).stdout
    veth = host.ok("cnm_info")["endpoints"]["n1/app"]["veth"]["host_interface"]
    assert "hairpin on" in host.sh(["ip", "-d", "link", "show", veth]).stdout


def test_isolation_icc_and_internal(host):
    host.converge("cnm_network", name="a", subnet="10.81.0.0/24")
    host.converge("cnm_network", name="b", subnet="10.82.0.0/24")
    host.converge("cnm_network", name="quiet", subnet="10.83.0.0/24", bridge={"icc": False})
    host.converge("cnm_network", name="vault", subnet="10.84.0.0/24", internal=True)
    sbs = {}
    for net, names in (("a", ["a1", "a2"]), ("b", ["b1"]), ("quiet", ["q1", "q2"]), ("vault", ["v1", "v2"])):
        for name in names:
            sbs[name] = host.sb(name)
            host.converge("cnm_endpoint", name=name, network=net, sandbox=sbs[name])
    assert host.ping(sbs["a1"], "a2"), "same network"
    assert not host.ping(sbs["a1"], "10.82.0.2"), "other networks are isolated"
    assert not host.ping(sbs["b1"], "10.81.0.2")
    assert host.ping(sbs["a1"], "10.81.0.1"), "the gateway answers"
    assert host.ping(sbs["q1"], "10.83.0.1")
    assert not host.ping(sbs["q1"], "q2"), "icc: false"
    assert host.ping(sbs["v1"], "v2"), "inside an internal network"
    assert not host.ping(sbs["v1"], "10.81.0.2") and not host.ping(sbs["a1"], "10.84.0.2")
    # Turning icc back on is an in-place firewall change.
    host.converge("cnm_network", name="quiet", subnet="10.83.0.0/24", bridge={"icc": True})
    # q1's ARP for q2 may still be between probes (one a second) from the ping icc stopped.
    assert any(host.ping(sbs["q1"], "q2") for _attempt in range(3))


def test_published_ports_from_host_other_namespaces_and_containers(host):
    host.converge("cnm_network", name="pets", subnet="10.90.0.0/24")
    web, db = host.sb("web"), host.sb("db")
    host.converge("cnm_endpoint", name="web", network="pets", sandbox=web,
                  publish=[{"host_port": 8000, "container_port": 5000},
                           {"host_port": 5353, "container_port": 53, "protocol": "udp"}])
    host.converge("cnm_endpoint", name="db", network="pets", sandbox=db)
    host.serve(web, 5000, "hello-web")
    host.serve(web, 53, "hello-udp", proto="udp")
    client = host.outside("client", "10.250.0.2", "10.250.0.1")
    assert host.fetch(None, "127.0.0.1", 8000) == "hello-web", "the host itself, on loopback"
    assert host.fetch(None, "10.250.0.1", 8000) == "hello-web", "the host, on its own address"
    assert host.fetch(client, "10.250.0.1", 8000) == "hello-web", "another namespace"
    assert host.fetch(client, "10.250.0.1", 5353, proto="udp") == "hello-udp"
    assert host.fetch(db, "10.250.0.1", 8000) == "hello-web", "another container, through the host"
    assert host.fetch(client, "10.250.0.1", 5000).startswith("ERROR"), "only published ports"
    assert host.ping(web, "10.250.0.2"), "masquerade lets the endpoint out"

    # A second endpoint may not take the same host port.
    clash = host.run("cnm_endpoint", name="db", network="pets", sandbox=db,
                     publish=[{"host_port": 8000, "container_port": 80}])
    assert clash["failed"] and clash["option"] == "publish[0].host_port"
    assert "already published by endpoint 'web'" in clash["msg"]

    # Unpublishing is in place; the endpoint keeps its link.
    host.converge("cnm_endpoint", name="web", network="pets", sandbox=web)
    assert host.fetch(client, "10.250.0.1", 8000).startswith("ERROR")
    assert host.fetch(db, "web", 5000) == "hello-web"


def test_drift_is_reported_and_repaired(host):
    host.converge("cnm_network", name="pets", subnet="10.91.0.0/24")
    a, b = host.sb("a"), host.sb("b")
    host.converge("cnm_endpoint", name="a", network="pets", sandbox=a)
    host.converge("cnm_endpoint", name="b", network="pets", sandbox=b)
    veth = host.ok("cnm_info")["endpoints"]["pets/a"]["veth"]["host_interface"]
    host.sh(["ip", "link", "del", veth])
    # A leftover of this state_dir's (its mark), and links of another state_dir and of nobody: not ours.
    for name, alias in (("cnmvstray", names.owner_tag(host.state_dir)), ("cnmvother", names.owner_tag("/elsewhere")),
                        ("cnmvnobody", None)):
        host.sh(["ip", "link", "add", name, "type", "veth", "peer", "name", name + "p"])
        if alias:
            host.sh(["ip", "link", "set", name, "alias", alias])
    host.sh(["nft", "delete", "table", "inet", host.table])
    drift = host.ok("cnm_info")["drift"]
    problems = sorted((d["kind"], d["name"]) for d in drift)
    assert ("endpoint", "pets/a") in problems and ("link", "cnmvstray") in problems
    assert ("link", "cnmvother") not in problems and ("link", "cnmvnobody") not in problems
    assert ("firewall", "inet " + host.table) in problems
    assert not host.ping(b, "a")
    repaired = host.converge("cnm_endpoint", name="a", network="pets", sandbox=a)
    assert any(c.startswith("create veth") for c in repaired["changes"])
    assert any("nftables" in c for c in repaired["changes"])
    assert host.ping(b, "a")
    assert [d["kind"] for d in host.ok("cnm_info")["drift"]] == ["link"]


def test_drift_is_what_a_run_would_change(host):
    """cnm_info's drift is the planner's: a wrong MTU, a missing address, a flushed chain and a
    rewritten hosts file each show as the change a run makes, and nothing else does."""
    host.converge("cnm_network", name="pets", subnet="10.89.0.0/24")
    a = host.sb("a")
    host.converge("cnm_endpoint", name="a", network="pets", sandbox=a)
    info = host.ok("cnm_info")
    assert info["drift"] == [] and info["networks"]["pets"]["present"] and info["endpoints"]["pets/a"]["present"]
    bridge = info["networks"]["pets"]["bridge"]["interface"]
    host.sh(["ip", "link", "set", bridge, "mtu", "1400"])
    host.sh(["ip", "-n", a, "addr", "flush", "dev", "eth0"])
    host.sh(["nft", "flush", "chain", "inet", host.table, "forward"])
    hosts = "/etc/netns/%s/hosts" % a
    with open(hosts, "a") as f:
        f.write("192.0.2.9 intruder\n")
    info = host.ok("cnm_info")
    drift = sorted((d["kind"], d["name"], d["problem"]) for d in info["drift"])
    assert drift == [
        ("endpoint", "pets/a", "add 10.89.0.2/24 to eth0 in %s" % a),
        ("endpoint", "pets/a", "route default via 10.89.0.1 in %s" % a),
        ("file", hosts, "write %s" % hosts),
        ("firewall", "inet " + host.table, "load the nftables tables inet {0} and bridge {0}: they differ from the "
         "records or were changed since their last load".format(host.table)),
        ("network", "pets", "set mtu 1500 on %s (was 1400)" % bridge)], drift
    assert not info["networks"]["pets"]["present"] and not info["endpoints"]["pets/a"]["present"]
    host.converge("cnm_network", name="pets", subnet="10.89.0.0/24")
    host.converge("cnm_endpoint", name="a", network="pets", sandbox=a)
    assert host.ok("cnm_info")["drift"] == []


def test_sandbox_path_of_a_running_process(host):
    host.converge("cnm_network", name="pets", subnet="10.92.0.0/24")
    ns = host.sb("ctr")
    host.sh(["ip", "netns", "add", ns])
    proc = host.serve(ns, 7000, "from-ctr")
    path = "/proc/%d/ns/net" % proc.pid
    made = host.converge("cnm_endpoint", name="ctr", network="pets", sandbox_path=path,
                         default_route=False)
    hosts_file = made["endpoint"]["hosts_file"]
    assert hosts_file.startswith(host.state_dir + "/sandboxes/")
    assert "10.92.0.2\tctr\n" in open(hosts_file).read()
    other = host.sb("other")
    host.converge("cnm_endpoint", name="other", network="pets", sandbox=other)
    assert host.fetch(other, "ctr", 7000) == "from-ctr"
    host.converge("cnm_endpoint", name="ctr", network="pets", state="absent")
    assert os.path.exists("/run/netns/" + ns), "a sandbox given by path is never removed"
    assert not os.path.exists(os.path.dirname(hosts_file))


def test_host_and_null_drivers(host):
    host.converge("cnm_network", name="host", driver="host")
    host.converge("cnm_network", name="none", driver="null")
    iso = host.sb("iso")
    made = host.converge("cnm_endpoint", name="iso", network="none", sandbox=iso)
    assert made["endpoint"]["ipv4_address"] is None
    assert host.links(iso) == ["lo"]
    bad = host.run("cnm_endpoint", name="h", network="host", sandbox=iso, publish=[{"container_port": 80}])
    assert bad["failed"] and bad["option"] == "publish"
    host.converge("cnm_endpoint", name="iso", network="none", state="absent")
    assert iso not in os.listdir("/run/netns")
    host.converge("cnm_network", name="none", driver="null", state="absent")


def test_network_delete_needs_force_with_endpoints(host):
    host.converge("cnm_network", name="pets", subnet="10.93.0.0/24")
    host.converge("cnm_endpoint", name="a", network="pets", sandbox=host.sb("a"))
    refused = host.run("cnm_network", name="pets", state="absent")
    assert refused["failed"] and refused["option"] == "force" and "endpoints (a)" in refused["msg"]
    assert "cnm-pets" in host.links()
    host.converge("cnm_network", name="pets", state="absent", force=True)
    assert "cnm-pets" not in host.links() and host.sb("a") not in os.listdir("/run/netns")
    with open(os.path.join(host.state_dir, "ipam-local.json")) as f:
        assert json.load(f) == {"pools": {}}
    assert host.ok("cnm_info")["endpoints"] == {}


def test_addressing_options_binding_ip_and_masquerade(host):
    made = host.converge("cnm_network", name="lab", subnet="10.94.0.0/24", gateway="10.94.0.254",
                         ip_range="10.94.0.8/29", aux_addresses={"router": "10.94.0.9"},
                         bridge={"name": "br-lab", "host_binding_ip": "127.0.0.1", "masquerade": False})
    assert made["network"]["bridge"]["interface"] == "br-lab" and made["network"]["gateway"] == "10.94.0.254"
    assert "10.94.0.254/24" in host.sh(["ip", "-o", "addr", "show", "br-lab"]).stdout
    a, b = host.sb("a"), host.sb("b")
    first = host.converge("cnm_endpoint", name="a", network="lab", sandbox=a,
                          publish=[{"host_port": 8081, "container_port": 80}])
    second = host.converge("cnm_endpoint", name="b", network="lab", sandbox=b)
    assert first["endpoint"]["ipv4_address"] == "10.94.0.8", "from ip_range"
    assert second["endpoint"]["ipv4_address"] == "10.94.0.10", "the aux address is skipped"
    assert "default via 10.94.0.254" in host.sh(["ip", "route"], a).stdout

    host.serve(a, 80, "bound")
    client = host.outside("client", "10.251.0.2", "10.251.0.1")
    assert host.fetch(None, "127.0.0.1", 8081) == "bound", "published on host_binding_ip"
    assert host.fetch(client, "10.251.0.1", 8081).startswith("ERROR"), "and only there"

    host.serve(client, 9000, "PEER")
    assert host.fetch(b, "10.251.0.2", 9000) == "10.94.0.10", "masquerade: false keeps the source"
    host.converge("cnm_network", name="lab", subnet="10.94.0.0/24", gateway="10.94.0.254",
                  ip_range="10.94.0.8/29", aux_addresses={"router": "10.94.0.9"},
                  bridge={"name": "br-lab", "host_binding_ip": "127.0.0.1", "masquerade": True})
    assert host.fetch(b, "10.251.0.2", 9000) == "10.251.0.1", "masquerade: true hides it"


def test_parallel_runs_never_share_an_address(host):
    """Four module processes at once, on one network: the store's lock serialises them."""
    host.converge("cnm_network", name="busy", subnet="10.95.0.0/24")
    host.converge("cnm_ipam_pool", pool="scratch", subnet="10.96.0.0/24")

    def endpoint(i):
        return host.run("cnm_endpoint", name="e%d" % i, network="busy", sandbox=host.sb("e%d" % i))

    def address(i):
        return host.run("cnm_ipam_pool", pool="scratch", addresses=[{"owner": "o%d-%d" % (i, j)} for j in range(5)])

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        eps = list(pool.map(endpoint, range(8)))
        addrs = list(pool.map(address, range(4)))
    assert all(not r.get("failed") for r in eps + addrs), eps + addrs
    ips = [r["endpoint"]["ipv4_address"] for r in eps]
    assert len(set(ips)) == 8
    held = host.ok("cnm_ipam_pool", pool="scratch")["addresses"]
    assert len(held) == 20 and len(set(held.values())) == 20
    assert host.ok("cnm_info")["drift"] == []


def test_bulk_endpoints_exclusive_and_noop(host):
    host.converge("cnm_network", name="farm", subnet="10.97.0.0/24")
    items = [{"name": "n%d" % i, "sandbox": host.sb("n%d" % i)} for i in range(6)]
    items.append({"name": "side", "sandbox": host.sb("n0"), "ipv4_address": "10.97.0.200"})
    before = host.snapshot()
    plan = host.ok("cnm_endpoint", network="farm", endpoints=items, check=True)
    assert plan["changed"] and len(plan["endpoints"]) == 7 and host.snapshot() == before
    made = host.converge("cnm_endpoint", network="farm", endpoints=items, diff=True)
    assert [e["ipv4_address"] for e in made["endpoints"]] == \
        ["10.97.0.%d" % i for i in range(2, 8)] + ["10.97.0.200"]
    assert sorted(made["diff"]["after"]) == sorted("farm/%s" % i["name"] for i in items)
    side = made["endpoints"][-1]
    assert side["ifname"] == "eth1" and side["default_route"] is False, "second endpoint of n0"
    assert host.ping(host.sb("n5"), "n0") and host.ping(host.sb("n0"), "side")
    assert plan["endpoints"] == made["endpoints"], "check mode reports what a real run makes"

    # A no-op rerun writes nothing: not the store, not a hosts file, not the ruleset.
    stamps = dict((p, os.stat(p).st_mtime_ns) for p in host.snapshot()["files"])
    again = host.ok("cnm_endpoint", network="farm", endpoints=items)
    assert again["changed"] is False and again["changes"] == []
    assert stamps == dict((p, os.stat(p).st_mtime_ns) for p in host.snapshot()["files"])

    # exclusive: what is no longer listed goes, sandboxes included.
    kept = host.converge("cnm_endpoint", network="farm", endpoints=items[:2], exclusive=True)
    assert len(kept["endpoints"]) == 2
    assert sorted(host.ok("cnm_info")["endpoints"]) == ["farm/n0", "farm/n1"]
    assert not os.path.exists("/run/netns/" + host.sb("n5"))
    assert "side" not in open("/etc/netns/%s/hosts" % host.sb("n0")).read()
    host.converge("cnm_endpoint", network="farm", endpoints=items[:2], state="absent")
    assert host.ok("cnm_info")["endpoints"] == {} and host.ok("cnm_info")["drift"] == []
    bad = host.run("cnm_endpoint", network="farm", endpoints=[{"name": "a"}, {"name": "b", "ipv4_address": "1.2.3.4"}])
    assert bad["failed"] and bad["option"] == "endpoints[1].ipv4_address"


def test_bulk_items_are_checked_and_converted_as_top_level_options(host):
    """Ansible validates each item of endpoints: unknown keys, types, exclusions."""
    host.converge("cnm_network", name="farm", subnet="10.97.0.0/24")
    before = host.snapshot()
    typo = host.run("cnm_endpoint", network="farm", endpoints=[{"name": "a", "ipv4_adress": "10.97.0.9"}])
    assert typo["failed"] and "ipv4_adress" in typo["msg"] and "endpoints" in typo["msg"], typo
    both = host.run("cnm_endpoint", network="farm", endpoints=[{"name": "a", "sandbox": "x", "sandbox_path": "/y"}])
    assert both["failed"] and "mutually exclusive: sandbox|sandbox_path" in both["msg"], both
    assert host.snapshot() == before, "a bad item changes nothing"
    a = host.sb("a")
    made = host.converge("cnm_endpoint", network="farm",
                         endpoints=[{"name": "a", "sandbox": a, "aliases": "www", "default_route": "False"}])
    assert made["endpoints"][0]["aliases"] == ["www"], "a string is a list of one alias"
    assert made["endpoints"][0]["default_route"] is False, "the string 'False' is false"
    assert "default" not in host.sh(["ip", "route"], a).stdout
    assert host.sh(["getent", "hosts", "www"], a).stdout.split()[0] == made["endpoints"][0]["ipv4_address"]


def test_prune_collects_what_belongs_to_nothing(host):
    host.converge("cnm_network", name="pets", subnet="10.99.0.0/24")
    a, b = host.sb("a"), host.sb("b")
    host.converge("cnm_endpoint", network="pets", endpoints=[{"name": "a", "sandbox": a}, {"name": "b", "sandbox": b}])
    host.sh(["ip", "link", "add", "cnmvorphan", "type", "veth", "peer", "name", "xpeer"])
    host.sh(["ip", "link", "set", "cnmvorphan", "alias", names.owner_tag(host.state_dir)])
    # Another state_dir's link, and one of the collection's naming that nobody marked: never pruned.
    host.sh(["ip", "link", "add", "cnmvtheirs", "type", "veth"])
    host.sh(["ip", "link", "set", "cnmvtheirs", "alias", names.owner_tag("/elsewhere")])
    host.sh(["ip", "link", "add", "cnm-nobody", "type", "bridge"])
    host.converge("cnm_ipam_pool", pool="pets", addresses=[{"owner": "ghost"}])
    before = host.snapshot()
    plan = host.ok("cnm_prune", check=True, diff=True)
    assert plan["removed"] == {"endpoints": [], "links": ["cnmvorphan"], "sandboxes": [], "addresses": ["pets/ghost"],
                               "files": []}
    assert plan["diff"]["before"] == plan["removed"]
    assert host.snapshot() == before, "check mode removes nothing"
    host.converge("cnm_prune")
    assert "cnmvorphan" not in host.links() and "xpeer" not in host.links()
    assert "cnmvtheirs" in host.links() and "cnm-nobody" in host.links()
    assert host.ping(a, "b"), "what records own is untouched"
    # A network record lost by hand: its endpoints belong to nothing any more.
    path = os.path.join(host.state_dir, "networks.json")
    with open(path) as f:
        nets = json.load(f)
    with open(path, "w") as f:
        json.dump({k: v for k, v in nets.items() if k != "pets"}, f)
    gone = host.converge("cnm_prune")
    assert gone["removed"]["endpoints"] == ["pets/a", "pets/b"]
    assert sorted(gone["removed"]["sandboxes"]) == sorted([a, b])
    assert not os.path.exists("/run/netns/" + a) and [lk for lk in host.links() if lk.startswith("cnmv")] == ["cnmvtheirs"]
