# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One allocator suite, run against the file backend and against a real etcd server."""

from __future__ import annotations

import base64
import concurrent.futures
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from helpers import ROOT, playbook  # pylint: disable=import-error

from ansible_collections.cnm.fabric.plugins.module_utils import spec
from ansible_collections.cnm.fabric.plugins.module_utils.errors import IpamError
from ansible_collections.cnm.fabric.plugins.module_utils.ipam import etcd
from ansible_collections.cnm.fabric.plugins.module_utils.ipam.file import FileBackend
from ansible_collections.cnm.fabric.plugins.module_utils.store import Store

POOLS = spec.parse_address_pools([{"base": "10.210.0.0/16", "size": 24}])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def etcd_url():
    yield from _etcd_server()


@pytest.fixture(scope="module")
def etcd_auth_url():
    """Another throwaway etcd, with user authentication on: user ``cnm`` (password ``s3cret-pw``) may
    read and write ``/cnm-auth/``, and ``root`` has the password ``root-pw``."""
    for url in _etcd_server():
        client = etcd.connect({"endpoints": [url]})
        for path, body in (("/auth/user/add", {"name": "root", "password": "root-pw"}),
                           ("/auth/user/grant", {"user": "root", "role": "root"}),
                           ("/auth/role/add", {"name": "ipam"}),
                           ("/auth/role/grant", {"name": "ipam", "perm": {
                               "permType": "READWRITE", "key": _b64("/cnm-auth/"), "range_end": _b64("/cnm-auth0")}}),
                           ("/auth/user/add", {"name": "cnm", "password": "s3cret-pw"}),
                           ("/auth/user/grant", {"user": "cnm", "role": "ipam"}),
                           ("/auth/enable", {})):
            client.post(client.get_url(path), json=body)
        yield url


def _b64(text):
    return base64.b64encode(text.encode()).decode()


def _etcd_server():
    """A throwaway etcd on loopback, with its own data dir; stopped and removed afterwards."""
    data = tempfile.mkdtemp(prefix="cnm-etcd-")
    client_port, peer_port = free_port(), free_port()
    url, peer = "http://127.0.0.1:%d" % client_port, "http://127.0.0.1:%d" % peer_port
    proc = subprocess.Popen(
        ["etcd", "--name", "cnm-test", "--data-dir", data, "--listen-client-urls", url,
         "--advertise-client-urls", url, "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
         "--initial-cluster", "cnm-test=" + peer, "--log-level", "error"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _round in range(100):
            try:
                etcd.connect({"endpoints": [url], "timeout": 1})
                break
            except Exception:  # pylint: disable=broad-except
                time.sleep(0.1)
        else:
            raise AssertionError("etcd did not start")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(data, ignore_errors=True)


class Backends(object):
    """Runs ``fn(space)`` on a space as one transaction: file (under the flock) or etcd
    (compare-and-swap, planned again when another writer committed first)."""

    def __init__(self, kind, where, prefix):
        self.kind, self.where, self.prefix = kind, where, prefix

    def run(self, fn, name="fleet"):
        if self.kind == "file":
            with Store(self.where) as store:
                result = fn(FileBackend(store, name))
                store.save()
                return result
        client = etcd.connect({"endpoints": [self.where]})
        for _round in range(100):
            backend = etcd.EtcdBackend(client, name, self.prefix)
            result = fn(backend)
            try:
                backend.commit()
                return result
            except etcd.Conflict:
                continue
        raise AssertionError("too many conflicts")


@pytest.fixture(params=["file", "etcd"])
def backends(request, tmp_path):
    if request.param == "file":
        return Backends("file", str(tmp_path / "state"), None)
    return Backends("etcd", request.getfixturevalue("etcd_url"), "/cnm-test-%s" % tmp_path.name)


def req(name, subnet=None, **kw):
    return spec.check_pool_request(name, subnet, kw.get("gateway"), kw.get("ip_range"), kw.get("aux"), versions=(4, 6))


def test_ipv6_pools_are_carved_from_ipv6_bases(backends):
    pools = spec.parse_address_pools([{"base": "fd00:210::/48", "size": 64}], versions=(6,))
    a, b = backends.run(lambda s: (s.request_pool(req("a", gateway=None), pools)[0], s.request_pool(req("b"), pools)[0]))
    assert (a["subnet"], a["gateway"], b["subnet"]) == ("fd00:210::/64", "fd00:210::1", "fd00:210:0:1::/64")
    assert backends.run(lambda s: [s.request_address("a", o)[0] for o in "xy"]) == ["fd00:210::2", "fd00:210::3"]


def test_pools_are_carved_kept_and_never_overlap(backends):
    a, b = backends.run(lambda s: (s.request_pool(req("a"), POOLS)[0], s.request_pool(req("b"), POOLS)[0]))
    assert (a["subnet"], b["subnet"]) == ("10.210.0.0/24", "10.210.1.0/24")

    def again(s):
        assert s.request_pool(req("a"), POOLS) == (a, False), "asking again returns the same answer"
        with pytest.raises(IpamError) as e:
            s.request_pool(req("c", "10.210.1.128/25"), POOLS)
        assert "'b'" in e.value.msg
        assert s.release_pool("a")
    backends.run(again)
    assert sorted(backends.run(lambda s: list(s.pools()))) == ["b"]
    assert backends.run(lambda s: s.request_pool(req("d"), POOLS)[0]["subnet"]) == "10.210.0.0/24"


def test_addresses_round_robin_release_and_exhaustion(backends):
    def first(s):
        s.request_pool(req("p", "10.211.0.0/29"))
        return [s.request_address("p", o)[0] for o in "abcde"]
    assert backends.run(first) == ["10.211.0.%d" % i for i in (2, 3, 4, 5, 6)]

    def second(s):
        assert s.request_address("p", "c") == ("10.211.0.4", False)
        with pytest.raises(IpamError):
            s.request_address("p", "f")
        s.release_address("p", "b")
    backends.run(second)

    def third(s):
        assert s.request_address("p", "f")[0] == "10.211.0.3", "the only free one, after the cursor wraps"
        with pytest.raises(IpamError):
            s.request_address("p", "g", "10.211.0.2")
    backends.run(third)


def _allocate(kind, where, prefix, worker):
    """25 addresses of each pool, one run each (both families, as a dual-stack network takes them)."""
    backends = Backends(kind, where, prefix)
    return [a for i in range(25) for a in backends.run(
        lambda s, i=i: [s.request_address(pool, "w%d-%d" % (worker, i))[0] for pool in ("shared", "shared:ipv6")])]


def test_concurrent_allocators_never_share_an_address(backends):
    backends.run(lambda s: (s.request_pool(req("shared", "10.212.0.0/24")),
                            s.request_pool(req("shared:ipv6", "fd00:212::/64"))))
    with concurrent.futures.ProcessPoolExecutor(4) as pool:
        results = list(pool.map(_allocate, *zip(*[(backends.kind, backends.where, backends.prefix, w)
                                                  for w in range(4)])))
    handed = [a for r in results for a in r]
    assert len(handed) == 200 and len(set(handed)) == 200
    assert sum(":" in a for a in handed) == 100
    for name in ("shared", "shared:ipv6"):
        held = backends.run(lambda s, name=name: dict(s.pool(name)["addresses"]))
        assert len(held) == 100 and set(held.values()) <= set(handed)


def test_module_with_etcd_backend(host, etcd_url):
    opts = {"endpoints": ["http://127.0.0.1:1", etcd_url], "prefix": "/cnm-mod"}
    args = dict(space="fleet", pool="ov", address_pools=[{"base": "10.215.0.0/16", "size": 24}],
                addresses=[{"owner": "web"}, {"owner": "db"}], backend="etcd", backend_options=opts)
    args["outside"] = True  # etcd listens on the machine's loopback
    plan = host.ok("cnm_ipam_pool", check=True, **args)
    assert plan["changed"] and plan["addresses"] == {"web": "10.215.0.2", "db": "10.215.0.3"}
    made = host.converge("cnm_ipam_pool", diff=True, **args)
    assert made["pool"]["subnet"] == "10.215.0.0/24" and made["diff"]["before"] == {}
    assert made["addresses"] == plan["addresses"], "check mode committed nothing"
    client = etcd.connect({"endpoints": [etcd_url]})
    assert client.get("/cnm-mod/ipam/fleet"), "kept in etcd"
    bad = host.run("cnm_ipam_pool", space="local", pool="x", backend="etcd", backend_options=opts, outside=True)
    assert bad["failed"] and bad["option"] == "space"
    down = host.run("cnm_ipam_pool", space="fleet", pool="x", backend="etcd",
                    backend_options={"endpoints": ["http://127.0.0.1:1"], "timeout": 1}, outside=True)
    assert down["failed"] and down["option"] == "backend_options.endpoints"


def test_overlay_role_allocates_in_etcd(etcd_url, tmp_path, fleet):
    """playbooks/overlay.yml on two namespace hosts with the fleet's pool in etcd."""
    prefix = "/cnm-role-%d" % os.getpid()
    inventory = tmp_path / "inventory.json"
    overlay = os.path.join(ROOT, "playbooks", "overlay.yml")
    _fleet_name, hosts = fleet(2)
    for k, host in enumerate(sorted(hosts), 1):
        hosts[host]["overlay_network_endpoints"] = [{"name": "ep%d" % k, "network": "fabric"}]
    inventory.write_text(json.dumps({"fleet": {"hosts": hosts, "vars": {
        "overlay_network_networks": [{"name": "fabric", "vni": 900}],
        "overlay_network_ipam_backend": "etcd",
        "overlay_network_ipam_backend_options": {"endpoints": [etcd_url], "prefix": prefix}}}}))
    playbook(inventory, overlay)
    again = playbook(inventory, overlay)
    assert re.findall(r"^host\d+\s+: ok=\d+\s+changed=(\d+)", again, re.M) == ["0", "0"], again[-2000:]
    pool = Backends("etcd", etcd_url, prefix).run(lambda s: s.pools()["fabric"])
    assert pool["subnet"] == "10.0.0.0/24", "Docker swarm's default pool"
    assert sorted(pool["addresses"]) == ["ep1", "ep2"]
    playbook(inventory, overlay, "-e", "overlay_network_state=absent")
    assert "fabric" not in Backends("etcd", etcd_url, prefix).run(lambda s: s.pools())


def test_etcd_user_authentication(host, etcd_auth_url):
    """etcd's auth API: the module logs in with backend_options.user and password (never shown),
    and a wrong password, a missing one, or no login at all is an error that names the option."""
    opts = {"endpoints": [etcd_auth_url], "prefix": "/cnm-auth", "user": "cnm", "password": "s3cret-pw"}
    args = dict(space="fleet", pool="ov", address_pools=[{"base": "10.216.0.0/16", "size": 24}],
                addresses=[{"owner": "web"}], backend="etcd", outside=True)
    made = host.converge("cnm_ipam_pool", backend_options=opts, **args)
    assert made["addresses"] == {"web": "10.216.0.2"}
    assert "s3cret-pw" not in json.dumps(made)
    wrong = host.run("cnm_ipam_pool", backend_options=dict(opts, password="not-it"), **args)
    assert wrong["failed"] and wrong["option"] == "backend_options.user", wrong
    assert "refused user 'cnm'" in wrong["msg"] and "not-it" not in json.dumps(wrong)
    anonymous = host.run("cnm_ipam_pool", backend_options={"endpoints": [etcd_auth_url], "prefix": "/cnm-auth"},
                         **args)
    assert anonymous["failed"] and anonymous["option"] == "backend_options.user", anonymous
    assert "could not read /cnm-auth/ipam/fleet" in anonymous["msg"]
    half = host.run("cnm_ipam_pool", backend_options={"endpoints": [etcd_auth_url], "user": "cnm"}, **args)
    assert half["failed"] and half["option"] == "backend_options.password"
    assert "is required with backend_options.user" in half["msg"]
