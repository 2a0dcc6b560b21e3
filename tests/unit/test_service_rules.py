# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Services' input and the rules of a sandbox, from hand-made records: no root, no kernel."""

from __future__ import annotations

import pytest

from ansible_collections.cnm.fabric.plugins.module_utils import sandbox, services, spec
from ansible_collections.cnm.fabric.plugins.module_utils.errors import SpecError
from ansible_collections.cnm.fabric.tests.unit.plans import nested

WEB = {"name": "web", "vip": "10.0.1.250", "ports": [{"port": 80, "target_port": 5000, "protocol": "tcp"}],
       "endpoints": ["w1", "w2", "w3"], "aliases": ["www"]}
FAB = {"name": "fab", "driver": "overlay", "subnet": "10.0.1.0/24", "interface": "cnm-fab", "vni": 7,
       "vxlan_interface": "cnm-vx-fab", "local_ip": "192.0.2.1", "underlay_interface": "eth0",
       "peers": {"192.0.2.2": [{"name": "w2", "ip": "10.0.1.4", "mac": "02:42:0a:00:01:04", "aliases": []}]},
       "services": {"web": WEB, "db": dict(WEB, name="db", vip="10.0.1.251", endpoints=["gone"], aliases=[],
                                           ports=[{"port": 53, "target_port": 53, "protocol": "udp"}])}}
NETS = {"fab": nested(FAB)}
EPS = {"fab/w1": {"name": "w1", "network": "fab", "sandbox": "w1", "ipv4_address": "10.0.1.3"},
       "fab/c": {"name": "c", "network": "fab", "sandbox": "c", "ipv4_address": "10.0.1.2"}}


def test_backends_are_the_named_endpoints_that_exist_here_or_behind_a_peer():
    assert services.backends(NETS["fab"], WEB, EPS) == ["10.0.1.3", "10.0.1.4"], "w3 is nowhere: not live"


def test_a_sandboxs_table_balances_live_backends_and_rejects_the_rest():
    text = services.render(NETS, EPS, {"fab"})
    assert "ip daddr 10.0.1.250 meta l4proto tcp th dport 80 dnat ip to numgen random mod 2 map " \
           "{ 0 : 10.0.1.3 . 5000, 1 : 10.0.1.4 . 5000 }" in text
    assert "ip daddr 10.0.1.251 meta l4proto udp th dport 53 reject\n" in text, "no backend: rejected"
    assert text.startswith("table inet cnm_svc {") and services.render(NETS, EPS, {"other"}) == ""
    hosts = sandbox.render_hosts(EPS, "c", networks=NETS)
    assert "10.0.1.250\tweb www\n" in hosts and "10.0.1.251\tdb\n" in hosts


@pytest.mark.parametrize("kw,option,text", [
    (dict(ports=[]), "ports", "at least one port"),
    (dict(ports=[{"port": 80}, {"port": 80, "protocol": "tcp"}]), "ports[1].port", "listed twice"),
    (dict(ports=[{"port": 0}]), "ports[0].port", "out of range"),
    (dict(vip="10.0.1.300"), "vip", "not a valid IP address"),
    (dict(endpoints=["a", "a"]), "endpoints[1]", "listed twice"),
    (dict(name="bad_name!"), "name", "not a valid name"),
])
def test_service_input_errors_name_the_option(kw, option, text):
    params = dict(name="web", network="fab", vip=None, ports=[{"port": 80}], endpoints=[], aliases=[], state="present")
    params.update(kw)
    with pytest.raises(SpecError) as e:
        spec.service_spec(params)
    assert e.value.option == option and text in e.value.msg, e.value


def test_the_mesh_balances_published_ports_and_snats_only_toward_remote_backends():
    web = dict(WEB, ports=[{"port": 80, "target_port": 5000, "protocol": "tcp", "published": 8000}])
    net = nested(FAB, host_address="10.0.1.254", services={"web": web})
    dnat, snat = services.mesh({"fab": net}, EPS)
    assert dnat == ["meta l4proto tcp th dport 8000 fib daddr type local dnat ip to numgen random mod 2 map "
                    "{ 0 : 10.0.1.3 . 5000, 1 : 10.0.1.4 . 5000 }"]
    assert snat == ['oifname "cnm-fab" ct status dnat ip daddr { 10.0.1.4 } snat ip to 10.0.1.254'], "10.0.1.3 is local"
    local_only = dict(net, services={"web": dict(web, endpoints=["w1"])})
    assert services.mesh({"fab": local_only}, EPS)[1] == []
    assert services.mesh({"fab": dict(net, services={"web": WEB})}, EPS) == ([], []), "nothing published"


def test_a_published_port_is_checked_and_recorded():
    params = dict(name="web", network="fab", vip=None, endpoints=[], aliases=[], state="present",
                  ports=[{"port": 80, "published": 8000}, {"port": 81, "published": 8000}])
    with pytest.raises(SpecError) as e:
        spec.service_spec(params)
    assert e.value.option == "ports[1].published"
    params["ports"] = [{"port": 80, "published": 8000}]
    assert dict(spec.service_spec(params).ports[0])["published"] == 8000
