# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Back after a reboot or a firewall flush with no playbook: the restore unit's code, run as the
unit runs it (the copy cnm_restore_unit writes, under the system's python3), on a host whose
namespaces, links and tables are all gone; and the module that installs the unit."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from ansible_collections.cnm.fabric.plugins.module_utils import unit

SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, with its pyroute2 0.7.2: what a managed host has


def code_copy(tmp_path):
    """The restore unit's code as cnm_restore_unit installs it, under ``tmp_path``; its launcher."""
    root = tmp_path / "code"
    for path, text in unit.wanted_files("/unused", SYSTEM_PYTHON).items():
        if path.startswith(unit.CODE_DIR + "/"):
            target = root / os.path.relpath(path, unit.CODE_DIR)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
    return str(root / unit.LAUNCHER)


def restore(host, launcher, *args):
    return host.sh([SYSTEM_PYTHON, "-I", launcher] + list(args) + [host.state_dir])


def test_a_rebooted_host_comes_back_with_no_playbook(host, tmp_path):
    launcher = code_copy(tmp_path)
    endpoints = [{"name": "web", "sandbox": host.sb("web"), "aliases": ["www"],
                  "publish": [{"host_port": 18480, "container_port": 5000}, {"host_port": 18481, "container_port": 5001,
                                                                             "protocol": "udp"}]},
                 {"name": "client", "sandbox": host.sb("client")}]
    network = dict(name="pets", subnet=["10.76.0.0/24", "fd76::/64"], ipv6=True)
    host.converge("cnm_network", **network)
    host.converge("cnm_endpoint", network="pets", endpoints=endpoints)
    host.converge("cnm_service", name="api", network="pets", ports=[{"port": 80, "target_port": 5000}],
                  endpoints=["web"])
    # A macvlan network on a device of the host's own configuration, which the reboot takes away.
    host.sh(["ip", "link", "add", "trunk0", "type", "veth", "peer", "name", "trunk1"])
    host.converge("cnm_network", name="lan", driver="macvlan", subnet="10.78.0.0/24", macvlan={"parent": "trunk0"})
    host.converge("cnm_endpoint", name="m1", network="lan", sandbox=host.sb("m1"))
    # A container's namespace, given by path: it will not survive the reboot.
    ctr = host.sb("ctr")
    subprocess.run(["ip", "netns", "add", ctr], check=True)
    ctr_veth = host.converge("cnm_endpoint", name="ctr", network="pets",
                             sandbox_path="/run/netns/" + ctr)["endpoint"]["veth"]["host_interface"]
    made = host.snapshot()
    assert restore(host, launcher).stdout == "%s: nothing to restore\n" % host.state_dir

    host.reboot()
    assert host.links() == ["lo"]
    before = host.snapshot()
    planned = restore(host, launcher, "--check")
    assert planned.returncode == 2 and host.snapshot() == before, "check mode changes nothing"
    assert "would create bridge" in planned.stdout and "would create sandbox %s" % host.sb("web") in planned.stdout
    done = restore(host, launcher)
    # The macvlan network cannot be made (not its endpoint either); that fails the run, once all else is made.
    assert done.returncode == 2 and done.stderr == ("not restored: network lan: the parent trunk0 of network 'lan' "
                                                    "does not exist\n"), done
    assert "waiting: sandbox /run/netns/%s is gone (its container stopped?): its 1 endpoint waits" % ctr in done.stdout
    after = host.snapshot()
    assert after["links"] == [n for n in made["links"] if n not in (ctr_veth, "trunk0", "trunk1")], "but those"
    assert after["nft"] == made["nft"], "the same tables"
    assert after["files"] == made["files"], "no record or file changed"
    outside = host.outside("out", "198.51.100.2", "198.51.100.1")
    host.serve(host.sb("web"), 5000, "web")
    host.serve(host.sb("web"), 5001, "udp-web", proto="udp")
    assert host.fetch(outside, "198.51.100.1", 18480) == "web", "published port"
    assert host.fetch(outside, "198.51.100.1", 18481, proto="udp") == "udp-web"
    assert host.fetch(host.sb("client"), "api", 80) == "web", "the service's VIP, by name"
    assert host.fetch(host.sb("client"), "www", 5000) == "web", "an endpoint, by alias"
    assert host.ping(host.sb("client"), "fd76::1"), "IPv6 gateway"
    host.sh(["ip", "link", "add", "trunk0", "type", "veth", "peer", "name", "trunk1"])  # the host's network is up
    again = restore(host, launcher)
    assert again.returncode == 0 and again.stdout.startswith("create sandbox %s\ncreate macvlan eth0 of trunk0" % host.sb("m1"))
    assert again.stdout.endswith("waiting: sandbox /run/netns/%s is gone (its container stopped?): its 1 endpoint "
                                 "waits for the playbook that gives its new path\n" % ctr), again.stdout
    # What the playbook would do now changes nothing but the endpoint whose container is gone.
    for module, args in (("cnm_network", network), ("cnm_endpoint", dict(network="pets", endpoints=endpoints)),
                         ("cnm_endpoint", dict(name="m1", network="lan", sandbox=host.sb("m1"))),
                         ("cnm_service", dict(name="api", network="pets", ports=[{"port": 80, "target_port": 5000}],
                                              endpoints=["web"]))):
        assert host.ok(module, **args)["changed"] is False, module
    host.converge("cnm_endpoint", name="ctr", network="pets", sandbox_path="/run/netns/" + ctr, state="absent")
    assert restore(host, launcher).returncode == 0
    assert host.ok("cnm_info")["drift"] == []

    # nftables.service's reload: "flush ruleset", then its own tables. The drop-in's command puts ours back.
    host.sh(["nft", "flush ruleset"])
    assert host.fetch(outside, "198.51.100.1", 18480, timeout=1).startswith("ERROR")
    reload = restore(host, launcher, "--firewall")
    assert reload.returncode == 0 and reload.stdout == "load the nftables tables inet {0} and bridge {0}\n".format(host.table)
    assert host.fetch(outside, "198.51.100.1", 18480) == "web"
    assert restore(host, launcher, "--firewall").stdout == "%s: nothing to restore\n" % host.state_dir


def test_nothing_recorded_nothing_done(host, tmp_path):
    """A state_dir that is not there (not mounted yet, or never used) is not made."""
    launcher = code_copy(tmp_path)
    for args in ((), ("--firewall",)):
        done = restore(host, launcher, *args)
        assert done.returncode == 0 and "nothing to restore" in done.stdout
    assert not os.path.exists(host.state_dir)


def private_files(tmp_path):
    """A command prefix giving a module the unit's directories of its own (``tmp_path`` subdirectories
    bound over them in a mount namespace of its own, where no systemd runs), and those directories."""
    dirs = dict((d, tmp_path / d.strip("/").replace("/", "_")) for d in (unit.UNIT_DIR, os.path.dirname(unit.CODE_DIR)))
    # Where this machine runs systemd, the module must not ask it to reload or start anything.
    script = "if [ -d /run/systemd/system ]; then mount -t tmpfs cnm-test /run/systemd/system; fi && "
    for real, mine in dirs.items():
        mine.mkdir()
        script += "mount --bind %s %s && " % (mine, real)
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script + 'exec "$@"', "sh"], dirs


def test_the_module_installs_and_removes_the_unit(host, tmp_path):
    prefix, dirs = private_files(tmp_path)
    etc, lib = dirs[unit.UNIT_DIR], dirs[os.path.dirname(unit.CODE_DIR)]
    host.converge("cnm_network", name="pets", subnet="10.77.0.0/24")
    name = unit.instance(host.state_dir)
    report = host.ok("cnm_info", prefix=prefix)
    assert report["restore_unit"] == {"unit": name, "problems": ["the restore unit is not installed",
                                                                 "systemd is not running on this host"]}
    assert "cnm.fabric.cnm_restore_unit" in json.dumps(report["warnings"]), "a host with records and no unit"
    planned = host.ok("cnm_restore_unit", check=True, diff=True, prefix=prefix)
    assert planned["changed"] and planned["unit"] == name and not os.listdir(etc) and not os.listdir(lib)
    assert planned["diff"]["after"]["changes"] == planned["changes"]
    done = host.ok("cnm_restore_unit", prefix=prefix)
    assert done["changes"] == planned["changes"] and "enable %s" % name in done["changes"]
    assert "systemd is not running" in json.dumps(done.get("warnings")), "nothing would run it here"
    assert host.ok("cnm_restore_unit", prefix=prefix)["changed"] is False, "idempotent"
    assert host.ok("cnm_info", prefix=prefix)["restore_unit"]["problems"] == ["systemd is not running on this host"]
    os.unlink(etc / unit.WANTS / name)  # systemctl disable
    assert host.ok("cnm_info", prefix=prefix)["restore_unit"]["problems"][0] == "%s is not enabled" % name
    assert host.ok("cnm_restore_unit", prefix=prefix)["changes"] == ["enable " + name]
    template = (etc / unit.TEMPLATE).read_text()
    assert "ExecStart=%s -I %s/%s %%f" % (sys.executable, unit.CODE_DIR, unit.LAUNCHER) in template, "the module's python"
    assert os.readlink(etc / unit.WANTS / name) == os.path.join(unit.UNIT_DIR, unit.TEMPLATE)
    dropin = (etc / unit.DROPIN_DIR / ("cnm-fabric@%s.conf" % unit.escape(host.state_dir))).read_text()
    assert "ExecReload=-" in dropin and dropin.rstrip().endswith("--firewall " + host.state_dir)
    assert (lib / "cnm-fabric" / unit.LAUNCHER).is_file()
    # A file of an older release is removed; a changed one is written again.
    stale = lib / "cnm-fabric" / "ansible_collections/cnm/fabric/plugins/module_utils/gone.py"
    stale.write_text("")
    (etc / unit.TEMPLATE).write_text("changed by hand")
    mended = host.ok("cnm_restore_unit", prefix=prefix)["changes"]
    assert sorted(mended) == ["remove " + os.path.join(unit.CODE_DIR, os.path.relpath(str(stale), str(lib / "cnm-fabric"))),
                              "write " + os.path.join(unit.UNIT_DIR, unit.TEMPLATE)]
    # Removal: refused while the state_dir records networks.
    refused = host.run("cnm_restore_unit", state="absent", prefix=prefix)
    assert refused["failed"] and refused["option"] == "force" and "pets" in refused["msg"]
    gone = host.ok("cnm_restore_unit", state="absent", force=True, prefix=prefix)
    assert gone["changed"] and not os.listdir(lib) and sorted(os.listdir(etc)) == [unit.WANTS]
    assert not os.listdir(etc / unit.WANTS)
    assert host.ok("cnm_restore_unit", state="absent", force=True, prefix=prefix)["changed"] is False


def test_paths_a_unit_file_cannot_hold_are_refused(host, tmp_path):
    prefix, dirs = private_files(tmp_path)
    for args, option in ((dict(state_dir="/var/lib/cnm x"), "state_dir"), (dict(state_dir="/var/lib/%n"), "state_dir"),
                         (dict(python="/usr/bin/python3\nExecStartPre=/bin/sh"), "python"),
                         (dict(state_dir="relative/dir"), "state_dir")):
        result = host.run("cnm_restore_unit", prefix=prefix, **args)
        assert result["failed"] and result["option"] == option, result
    assert not any(os.listdir(d) for d in dirs.values())


def test_a_sandbox_made_again_gets_its_service_rules_again(host):
    """Its rules file says they are loaded; the new namespace has none until they are."""
    host.converge("cnm_network", name="pets", subnet="10.79.0.0/24")
    host.converge("cnm_endpoint", network="pets", endpoints=[{"name": n, "sandbox": host.sb(n)} for n in ("web", "client")])
    host.converge("cnm_service", name="api", network="pets", ports=[{"port": 80, "target_port": 5000}], endpoints=["web"])
    host.serve(host.sb("web"), 5000, "web")
    subprocess.run(["ip", "netns", "del", host.sb("client")], check=True)
    made = host.ok("cnm_endpoint", name="client", network="pets", sandbox=host.sb("client"))
    assert "load the service rules of sandbox %s" % host.sb("client") in made["changes"], made["changes"]
    assert host.fetch(host.sb("client"), "api", 80) == "web"
