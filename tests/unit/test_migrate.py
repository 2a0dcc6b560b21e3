# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The records' layout versions: migrated once, in check mode in memory only, refused when newer."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.cnm.fabric.plugins.module_utils import drivers, migrate
from ansible_collections.cnm.fabric.plugins.module_utils.errors import StoreError
from ansible_collections.cnm.fabric.plugins.module_utils.run import Run
from ansible_collections.cnm.fabric.tests.unit.plans import nested

BRIDGE = {"name": "pets", "driver": "bridge", "subnet": "10.1.0.0/24", "gateway": "10.1.0.1", "mtu": 1500,
          "internal": False, "labels": {}, "interface": "cnm-pets"}
OVERLAY = {"name": "fab", "driver": "overlay", "subnet": "10.2.0.0/24", "gateway": "10.2.0.1", "mtu": 1450,
           "internal": False, "labels": {}, "interface": "cnm-fab", "vni": 4097, "vxlan_interface": "cnmx-fab",
           "local_ip": "192.0.2.1", "underlay_interface": "eth0", "port": 4789, "encrypted": False,
           "host_address": None, "peers": {}, "peer_hosts": {}}


def state_dir(tmp_path, networks, schema=None):
    d = tmp_path / "state"
    d.mkdir(mode=0o700, parents=True)
    (d / "networks.json").write_text(json.dumps(networks))
    if schema is not None:
        (d / "schema.json").write_text(json.dumps({"version": schema}))
    return str(d)


def read(d, name):
    with open(os.path.join(d, name + ".json")) as f:
        return json.load(f)


def test_version_1_records_gain_id_and_scope_once(tmp_path):
    d = state_dir(tmp_path, {"pets": BRIDGE, "fab": OVERLAY})
    with Run(d, check_mode=True) as run:  # check mode: the new layout in memory, nothing written
        pets, fab = run.networks["pets"], run.networks["fab"]
        assert run.store.dirty() == []
    assert read(d, "networks") == {"pets": BRIDGE, "fab": OVERLAY} and not os.path.exists(os.path.join(d, "schema.json"))
    assert pets["scope"] == "local" and fab["scope"] == "fleet" and len(pets["id"]) == len(fab["id"]) == 64
    with Run(d, check_mode=False) as run:
        assert run.store.dirty() == []
    assert read(d, "schema") == {"version": migrate.CURRENT}
    assert read(d, "networks") == {"pets": nested(BRIDGE, id=pets["id"], scope="local"),
                                   "fab": nested(OVERLAY, id=fab["id"], scope="fleet")}
    mtime = os.stat(os.path.join(d, "networks.json")).st_mtime_ns
    with Run(d, check_mode=False):
        pass
    assert os.stat(os.path.join(d, "networks.json")).st_mtime_ns == mtime, "migrated once"


def test_ids_are_fleet_wide_for_an_overlay_and_per_host_for_a_local_network(tmp_path):
    ids = []
    for where in ("a", "b"):
        d = state_dir(tmp_path / where, {"pets": BRIDGE, "fab": OVERLAY})
        with Run(d, check_mode=True) as run:
            ids.append((run.networks["pets"]["id"], run.networks["fab"]["id"]))
    assert ids[0][1] == ids[1][1], "an overlay's ID is the same on every host"
    assert ids[0][0] != ids[1][0], "a local network's ID is this state_dir's and this machine's"
    # Once made, a local network keeps its ID (a state_dir moved, a machine-id changed); an overlay's
    # follows what names it fleet-wide.
    assert drivers.network_id(nested(BRIDGE), str(tmp_path / "moved"), dict(BRIDGE, id=ids[0][0])) == ids[0][0]
    assert drivers.network_id(nested(OVERLAY), str(tmp_path), dict(OVERLAY, id="x" * 64)) == ids[0][1]


def test_version_2_driver_fields_move_into_their_parts(tmp_path):
    """Schema 2 -> 3: a driver's own fields go under its parts; an endpoint with a host end of a veth
    gets a ``veth`` part (its network's record may be gone), one without none; nothing else moves."""
    d = state_dir(tmp_path, {"pets": dict(BRIDGE, id="a" * 64, scope="local", gateway_mode=None)}, schema=2)
    endpoints = {"pets/web": {"name": "web", "network": "pets", "host_interface": "cnmv1", "ipv4_address": "10.1.0.2"},
                 "lan/db": {"name": "db", "network": "lan", "host_interface": None, "ipv4_address": "10.9.0.2"}}
    (tmp_path / "state" / "endpoints.json").write_text(json.dumps(endpoints))
    with Run(d, check_mode=False) as run:
        assert run.networks["pets"] == dict((k, v) for k, v in BRIDGE.items() if k != "interface") | {
            "id": "a" * 64, "scope": "local",
            "bridge": {"interface": "cnm-pets", "icc": True, "masquerade": True, "masquerade_ipv6": True,
                       "host_binding_ip": "0.0.0.0", "hairpin": False, "adopted": False, "gateway_mode": "nat",
                       "gateway_mode_ipv6": "nat", "trusted_host_interfaces": []}}
    assert read(d, "endpoints") == {
        "pets/web": {"name": "web", "network": "pets", "veth": {"host_interface": "cnmv1"}, "ipv4_address": "10.1.0.2"},
        "lan/db": {"name": "db", "network": "lan", "ipv4_address": "10.9.0.2"}}
    assert read(d, "schema") == {"version": 3}


def test_a_migration_killed_before_its_version_is_written_is_done_again(tmp_path):
    d = state_dir(tmp_path, {"pets": BRIDGE})
    with Run(d, check_mode=False) as run:
        done = run.networks["pets"]
    os.unlink(os.path.join(d, "schema.json"))  # as a kill between the records and the version
    with Run(d, check_mode=False) as run:
        assert run.networks["pets"] == done and run.store.dirty() == []
    assert read(d, "schema") == {"version": migrate.CURRENT}


def test_records_of_a_newer_release_are_refused_untouched(tmp_path):
    d = state_dir(tmp_path, {"pets": BRIDGE}, schema=migrate.CURRENT + 1)
    for check in (True, False):
        with pytest.raises(StoreError) as e:
            with Run(d, check_mode=check):
                pass
        assert e.value.option == "state_dir" and "newer release" in e.value.msg
    assert read(d, "networks") == {"pets": BRIDGE}
