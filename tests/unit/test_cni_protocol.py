# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CNI protocol's pure parts (cni.py): the configuration checked, results read. The plugins
themselves run in tests/integration/test_cni.py."""

from __future__ import annotations

import pytest

from ansible_collections.cnm.fabric.plugins.module_utils import cni
from ansible_collections.cnm.fabric.plugins.module_utils.errors import SpecError


def test_results_of_both_versions_give_the_interface_s_addresses_and_mac():
    v1 = {"cniVersion": "1.0.0",
          "interfaces": [{"name": "cni0", "mac": "aa:aa:aa:aa:aa:aa"},
                         {"name": "eth0", "mac": "76:1d:22:82:29:0e", "sandbox": "/run/netns/a"},
                         {"name": "eth1", "mac": "76:1d:22:82:29:0f", "sandbox": "/run/netns/a"}],
          "ips": [{"interface": 2, "address": "10.0.1.2/24"}, {"interface": 1, "address": "10.99.0.2/24"},
                  {"interface": 1, "address": "fd00::2/64"}, {"interface": 1, "address": "10.99.0.3/24"}]}
    assert cni.addresses(v1, "eth0") == ("10.99.0.2", "fd00::2", "76:1d:22:82:29:0e")
    v04 = {"cniVersion": "0.4.0", "ips": [{"version": "4", "address": "10.90.0.5/24"}]}  # no interfaces named
    assert cni.addresses(v04, "net1") == ("10.90.0.5", None, None)
    assert cni.addresses({}, "eth0") == (None, None, None)


@pytest.mark.parametrize("plugins, option", [
    (None, "cni.plugins"),
    ([], "cni.plugins"),
    (["bridge"], "cni.plugins[0]"),
    ([{"type": "bridge"}, {"type": "/usr/bin/id"}], "cni.plugins[1].type"),
    ([{"type": "bridge", "ipam": {"type": "../host-local"}}], "cni.plugins[0].ipam.type"),
    ([{"type": 3}], "cni.plugins[0].type"),
    ([{"type": "bridge", "cniVersion": "0.3.1"}], "cni.plugins[0].cniVersion"),
    ([{"type": "bridge", "prevResult": {}}], "cni.plugins[0].prevResult"),
])
def test_plugins_that_are_refused(plugins, option):
    with pytest.raises(SpecError) as e:
        cni.check_plugins(plugins, "cni.plugins")
    assert e.value.option == option


def test_the_path():
    assert cni.check_path(None, "cni.path") == cni.DEFAULT_PATH
    assert cni.check_path(["/opt/cni//bin/"], "cni.path") == ("/opt/cni/bin",)
    for bad in (["bin"], ["/a:/b"], ["/a\nb"], []):
        with pytest.raises(SpecError):
            cni.check_path(bad, "cni.path")


def test_each_plugin_gets_the_list_s_name_and_version_and_what_came_before():
    net = cni.conflist("plug", "1.0.0", [{"type": "bridge"}, {"type": "tuning"}])
    conf = cni._conf(net, net["plugins"][1], {"ips": []})  # pylint: disable=protected-access
    assert conf == {"type": "tuning", "cniVersion": "1.0.0", "name": "plug", "prevResult": {"ips": []}}
    assert "prevResult" not in cni._conf(net, net["plugins"][0], None)  # pylint: disable=protected-access


def test_what_a_main_plugin_sets_from_an_ipam_result():
    """Addresses, default routes by IP version (through the route's gateway or, without one, the
    gateway of an address of its version), and the other routes; unreadable entries skipped."""
    result = {"ips": [{"address": "10.70.0.101/24", "gateway": "10.70.0.1"}, {"address": "fd70::5/64"},
                      {"address": "not an address"}],
              "routes": [{"dst": "0.0.0.0/0"}, {"dst": "10.9.0.0/16", "gw": "10.70.0.254"}, {"dst": "::/0", "gw": "fd70::1"},
                         {"dst": "192.0.2.0/24"}, {"dst": "fd99::/64"}, {"dst": "bad"}]}
    assert cni.configuration(result) == (
        ["10.70.0.101/24", "fd70::5/64"], {4: "10.70.0.1", 6: "fd70::1"},
        [("10.9.0.0/16", "10.70.0.254"), ("192.0.2.0/24", "10.70.0.1"), ("fd99::/64", None)])
    assert cni.configuration({}) == ([], {}, [])
