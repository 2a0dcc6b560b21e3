# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""cnm_host: one module call that does what the modules do, item by item, on the real kernel."""

from __future__ import annotations

import json

import pytest


def _declaration(host):
    web, db = host.sb("web"), host.sb("db")
    return dict(
        networks=[{"name": "pets", "subnet": ["10.91.0.0/24"]}],
        endpoints=[{"network": "pets", "exclusive": True, "endpoints": [
            {"name": "web", "sandbox": web, "publish": [{"host_port": 8000, "container_port": 5000}]},
            {"name": "db", "sandbox": db, "aliases": ["database"]}]}],
        services=[{"name": "www", "network": "pets", "ports": [{"port": 80, "target_port": 5000}],
                   "endpoints": ["web"]}])


def test_one_call_converges_what_the_modules_would_and_nothing_on_a_rerun(host):
    web, db = host.sb("web"), host.sb("db")
    declared = _declaration(host)
    before = host.snapshot()
    planned = host.ok("cnm_host", check=True, diff=True, **declared)
    assert host.snapshot() == before, "check mode must create nothing"
    assert planned["changed"] and planned["networks"][0]["network"]["subnet"] == "10.91.0.0/24"
    assert [item.get("skipped") for item in planned["endpoints"] + planned["services"]] == [True, True], \
        "items on a network check mode has not made are left for the real run"

    made = host.converge("cnm_host", diff=True, **declared)
    assert made["networks"][0]["network"] == planned["networks"][0]["network"], "check mode reports what a run makes"
    assert [e["ipv4_address"] for e in made["endpoints"][0]["endpoints"]] == ["10.91.0.2", "10.91.0.3"]
    assert made["services"][0]["service"]["vip"]
    assert len(made["diff"]) == 3 and made["diff"][0]["before"] == {}
    assert made["changes"] == made["networks"][0]["changes"] + made["endpoints"][0]["changes"] \
        + made["services"][0]["changes"]

    # Real packets: by name, through the service's VIP and through the published port.
    host.serve(web, 5000, "hello-web")
    assert host.ping(web, "database")
    assert host.fetch(db, "www", 80) == "hello-web"
    assert host.fetch(None, "127.0.0.1", 8000) == "hello-web"

    # The same state the modules converge to: each of them, run alone on it, changes nothing.
    for module, item in (("cnm_network", declared["networks"][0]), ("cnm_endpoint", declared["endpoints"][0]),
                         ("cnm_service", declared["services"][0])):
        again = host.ok(module, **item)
        assert again["changed"] is False and again["changes"] == [], (module, again)


@pytest.mark.parametrize("change, option, words", [
    ({"endpoints": [{"network": "pets", "name": "x", "sandbox": "x", "ipv4_address": "10.91.0.300"}]},
     "endpoints[0].ipv4_address", "10.91.0.300"),
    ({"endpoints": [{"network": "pets", "name": "x", "sandbox": "x", "nme": "y"}]}, "endpoints[0]", "unsupported option nme"),
    ({"services": [{"name": "www", "network": "pets", "ports": [{"port": "eighty"}]}]}, "services[0]", "port"),
    ({"restore_unit": {"state_dir": "/var/lib/cnm x"}}, "restore_unit.state_dir", "cannot be written"),
])
def test_a_bad_item_is_refused_before_any_item_runs(host, change, option, words):
    # Sandboxes named as this test's own, should a regression let the item run.
    change = dict(change, endpoints=[dict(e, sandbox=host.sb(e["sandbox"])) for e in change.get("endpoints", [])])
    declared = dict(_declaration(host), **change)
    before = host.snapshot()
    failed = host.run("cnm_host", **declared)
    assert failed["failed"] and failed["option"] == option and words in failed["msg"], failed
    assert host.snapshot() == before, "the networks before the bad item are not made either"


def test_an_error_while_running_names_the_item_and_keeps_what_was_done(host):
    declared = _declaration(host)
    declared["endpoints"][0]["endpoints"][1]["ipv4_address"] = "10.99.0.9"  # outside the subnet
    failed = host.run("cnm_host", **declared)
    assert failed["failed"] and failed["option"].startswith("endpoints[0]"), failed
    assert "cnm-pets" in host.links(), "the network item before it stays done, as a play's earlier task would"
    assert host.sh(["ip", "netns", "exec", host.sb("web"), "true"]).returncode != 0, "the failed item made nothing"


def test_encryption_keys_of_a_peers_item_never_show_in_the_output(host):
    key = "0x" + "5e" * 36
    proc = host.start("cnm_host", peers=[{"network": "nowhere", "encryption_keys": [key],
                                          "peers": [{"vtep": "not-an-address"}]}])
    out, err = proc.communicate()
    result = json.loads(out)
    assert result["failed"] and result["option"].startswith("peers[0]"), result
    assert key not in out + err
    assert result["invocation"]["module_args"]["peers"][0]["encryption_keys"] == ["VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"]
