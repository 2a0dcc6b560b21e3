"""Records written by older code (release 0.1.0, and the 0.2.0 development line before records had a
schema version), made by that code itself, taken from the repository's history and run on the
real kernel, are read by this release: migrated once, under the lock, with no kernel change; what
this release makes differently is made by its first run, in place."""

import json
import os
import re
import subprocess

import pytest

from ansible_collections.cnm.fabric.plugins.module_utils import migrate, names

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RELEASES = {
    "0.1.0": "164557a6a85f8c8ed4d156b6d96eb66bfa97bf80",  # the last commit whose galaxy.yml says 0.1.0
    "0.2.0-unversioned": "b47b2bce897ab3301a9efba5ac53a7d477edfe0c",  # the last commit before schema.json
    "0.2.0-schema-2": "da241febdd0830a898ea8bc8a732f6a5d971c42a",  # the last commit before drivers' parts
}
# What 0.2.0 does differently from 0.1.0 on the same records (changelog: ipv6-dual-stack,
# live-host-kernel-state, state-dir-tenants): it applies them in place, to every network and endpoint.
CHANGES_SINCE_0_1_0 = (r"set mac 02:42:\S+ on cnm-\w+ \(was \S+\)", r"set net/ipv6/conf/\S+/disable_ipv6 = 1( in \S+)?",
                       r"set net/ipv4/conf/cnm-\w+/rp_filter = 2",
                       r"load the nftables tables inet cnm_\w+ and bridge cnm_\w+(: they are missing)?")
# What this release writes differently from the 0.2.0 line before schema.json (changelog:
# published-port-maps): the same rules, published ports as map elements, loaded by its first run.
TABLES_AGAIN = "load the nftables tables inet %s and bridge %s"


@pytest.fixture
def older(tmp_path):
    """A release's collection, unpacked from git into the test's directory: its path."""
    def unpack(release):
        target = tmp_path / release / "ansible_collections" / "cnm" / "fabric"
        target.mkdir(parents=True)
        archive = subprocess.run(["git", "-C", ROOT, "archive", RELEASES[release], "plugins", "galaxy.yml"],
                                 capture_output=True, check=False)
        if archive.returncode != 0:
            pytest.skip("%s is not in this clone's history: %s" % (release, archive.stderr.decode().strip()))
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
        return str(tmp_path / release)
    return unpack


def records(host, name):
    with open(os.path.join(host.state_dir, name + ".json")) as f:
        return json.load(f)


def kernel_and_files(host, *sandboxes):
    """The host's snapshot (and its sandboxes' links) less the state_dir's own files: the records
    are what migrates."""
    snap = host.snapshot()
    snap["files"] = dict((path, data) for path, data in snap["files"].items() if not path.startswith(host.state_dir))
    snap["sandboxes"] = [host.links(ns) for ns in sandboxes]
    return snap


def build(host, collections, versioned=False):
    """Two bridge networks, one internal, and three endpoints with an alias and a published port,
    made by the code in ``collections`` (``versioned``: code that writes a schema version); return the
    calls, to run again."""
    web, db = host.sb("web"), host.sb("db")
    calls = [("cnm_network", dict(name="pets", subnet="10.87.0.0/24")),
             ("cnm_network", dict(name="back", subnet="10.86.0.0/24", internal=True)),
             ("cnm_endpoint", dict(name="web", network="pets", sandbox=web, aliases=["www"],
                                   publish=[{"host_port": 8087, "container_port": 80}])),
             ("cnm_endpoint", dict(name="db", network="pets", sandbox=db)),
             ("cnm_endpoint", dict(name="db", network="back", sandbox=db))]
    this_release, host.collections = host.collections, collections
    try:
        for module, args in calls:
            host.converge(module, **args)
    finally:
        host.collections = this_release
    host.serve(web, 80, "web")
    assert ("id" in records(host, "networks")["pets"]) == versioned
    assert os.path.exists(os.path.join(host.state_dir, "schema.json")) == versioned
    return calls, (web, db)


def check_served(host, db):
    assert host.fetch(db, "www", 80) == "web"
    assert host.fetch(None, "10.87.0.1", 8087) == "web"


def check_migrated(host, old_networks, old_endpoints, info):
    """The records are of this release's schema: every network has its ID and scope, and a driver's
    own fields are in its parts (an endpoint's veth too), with the values the older code wrote."""
    with open(os.path.join(host.state_dir, "schema.json")) as f:
        assert json.load(f) == {"version": migrate.CURRENT}
    pets = info["networks"]["pets"]
    assert pets["scope"] == "local" and len(pets["id"]) == 64 and pets["id"] != info["networks"]["back"]["id"]
    now = records(host, "networks")
    for name, net in old_networks.items():  # a run of this release may add fields of its own
        want = migrate.nest_network(dict(net, id=info["networks"][name]["id"], scope="local"))
        assert dict(now[name], **want) == now[name], name
        assert now[name]["bridge"]["interface"] == net.get("interface", (net.get("bridge") or {}).get("interface"))
    now = records(host, "endpoints")
    for key, ep in old_endpoints.items():
        assert now[key]["veth"]["host_interface"] == ep.get("host_interface", (ep.get("veth") or {}).get("host_interface"))
        assert "host_interface" not in now[key], key


def test_records_of_the_unversioned_0_2_0_line_migrate_with_no_kernel_change(host, older):
    calls, (web, db) = build(host, older("0.2.0-unversioned"))
    old_networks, old_endpoints = records(host, "networks"), records(host, "endpoints")
    before = kernel_and_files(host, web, db)
    info = host.ok("cnm_info")  # check mode: the new layout in memory, nothing written
    tables = TABLES_AGAIN % ((names.table_name(host.state_dir),) * 2)
    assert [(d["kind"], d["problem"]) for d in info["drift"]] == [
        ("firewall", tables + ": they differ from the records or were changed since their last load")], info["drift"]
    assert records(host, "networks") == old_networks and kernel_and_files(host, web, db) == before
    made = [host.ok(module, **args)["changes"] for module, args in calls]
    assert made == [[tables]] + [[]] * (len(calls) - 1), made
    for module, args in calls:
        result = host.ok(module, **args)
        assert result["changed"] is False and result["changes"] == [], (module, result)
    after = kernel_and_files(host, web, db)
    assert dict(after, nft=None) == dict(before, nft=None), "nothing but the tables changed"
    assert "tcp . 8087 : 10.87.0.2 . 80" in after["nft"], "the published port, as a map element"
    assert host.ok("cnm_info")["drift"] == []
    check_migrated(host, old_networks, old_endpoints, info)
    check_served(host, db)


def test_records_of_release_0_1_0_migrate_and_take_0_2_0s_changes_in_place(host, older):
    """The migration itself changes no kernel object; what 0.2.0 makes differently (a bridge's own
    MAC, IPv6 off on IPv4-only links, loose reverse-path filtering, tables of the state_dir's
    own) is what cnm_info lists, and the first run makes exactly that, in place, the next nothing."""
    calls, (web, db) = build(host, older("0.1.0"))
    old_networks, old_endpoints = records(host, "networks"), records(host, "endpoints")
    before = kernel_and_files(host, web, db)
    info = host.ok("cnm_info")
    assert records(host, "networks") == old_networks and kernel_and_files(host, web, db) == before
    listed = [d["problem"] for d in info["drift"]]
    expected = [p for p in listed if any(re.fullmatch(pattern, p) for pattern in CHANGES_SINCE_0_1_0)]
    assert listed and expected == listed, listed
    made = []
    for module, args in calls:
        made += host.ok(module, **args)["changes"]
    assert sorted(made) == sorted(re.sub(": they are missing$", "", p) for p in listed), made
    for module, args in calls:
        result = host.ok(module, **args)
        assert result["changed"] is False and result["changes"] == [], (module, result)
    after = kernel_and_files(host, web, db)
    assert after["links"] == before["links"] and after["sandboxes"] == before["sandboxes"], "nothing made again"
    assert host.ok("cnm_info")["drift"] == []
    check_migrated(host, old_networks, old_endpoints, info)
    check_served(host, db)


def test_records_of_schema_2_move_into_drivers_parts_with_no_kernel_change(host, older):
    """Records of the 0.2.0 line with a schema version (2), whose driver fields were beside the common
    ones: the first read moves them into the drivers' parts, and nothing else changes."""
    calls, (web, db) = build(host, older("0.2.0-schema-2"), versioned=True)
    old_networks, old_endpoints = records(host, "networks"), records(host, "endpoints")
    assert "interface" in old_networks["pets"] and "host_interface" in old_endpoints["pets/web"]
    before = kernel_and_files(host, web, db)
    info = host.ok("cnm_info")  # check mode: the new layout in memory, nothing written
    assert info["drift"] == [] and records(host, "networks") == old_networks
    assert info["networks"]["pets"]["bridge"]["interface"] == old_networks["pets"]["interface"]
    for module, args in calls:
        result = host.ok(module, **args)
        assert result["changed"] is False and result["changes"] == [], (module, result)
    assert kernel_and_files(host, web, db) == before
    check_migrated(host, old_networks, old_endpoints, info)
    check_served(host, db)
