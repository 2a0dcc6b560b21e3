# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The IPsec plan of an encrypted overlay network, from hand-made records: keys, SPIs, stages,
and a rotation between two hosts played step by step. No root, no kernel."""

from __future__ import annotations

import re

import pytest

from ansible_collections.cnm.fabric.plugins.module_utils import firewall
from ansible_collections.cnm.fabric.plugins.module_utils.drivers import esp, overlay
from ansible_collections.cnm.fabric.plugins.module_utils.errors import SpecError
from ansible_collections.cnm.fabric.plugins.module_utils.model import XfrmView
from ansible_collections.cnm.fabric.plugins.module_utils.spec import PeersSpec
from ansible_collections.cnm.fabric.tests.unit.plans import nested

K1, K2, K3 = "11" * 32, "0x" + "22" * 32, "33" * 32
A, B = "198.18.1.1", "198.18.1.2"


def network(local, peer, encrypted=True):
    return nested({"name": "sec", "driver": "overlay", "vni": 4101, "port": 4789, "local_ip": local, "encrypted": encrypted,
                   "peers": {peer: []} if peer else {}, "interface": "cnm-sec", "subnet": "10.0.9.0/24",
                   "internal": False, "masquerade": True, "icc": True, "vxlan_interface": "cnm-vx-sec",
                   "underlay_interface": "eth0"})


def part(local, peer):
    return overlay.OverlayPart.of(network(local, peer))


def run(view, local, peer, keys, stage):
    """One run on one host: (its new view, the commands it ran)."""
    plan = esp.changes("sec", part(local, peer), esp.parse_keys(keys) if keys else None, stage, view)
    states, policies = set(view.states), set(view.policies)
    for c in plan:
        line = c.args[0]
        words = line.split()
        if words[1] == "state":
            item = (words[words.index("src") + 1], words[words.index("dst") + 1], int(words[words.index("spi") + 1], 16))
            (states.add if words[2] == "add" else states.discard)(item)
        else:
            item = (words[4].split("/")[0], words[6].split("/")[0], int(words[10]))
            (policies.add if words[2] == "add" else policies.discard)(item)
    return XfrmView(frozenset(states), frozenset(policies)), [c.args[0] for c in plan]


def sending(view, src, dst):
    return set(s[2] for s in view.states if s[:2] == (src, dst))


def decrypts(view, src, dst):
    return set(s[2] for s in view.states if s[:2] == (src, dst))


def test_both_ends_derive_the_same_sa_and_each_direction_and_network_its_own():
    key = esp.parse_keys([K1])[0]
    spi, material = esp.derive(key, 4101, A, B)
    assert esp.derive(key, 4101, A, B) == (spi, material)
    assert esp.derive(key, 4101, B, A)[0] != spi and esp.derive(key, 4101, B, A)[1] != material
    assert esp.derive(key, 4102, A, B)[1] != material
    assert esp.derive(esp.parse_keys([K3])[0], 4101, A, B)[1] != material
    assert 0x100 <= spi <= 0xFFFFFFFF and len(material) == 2 * (32 + 4)


@pytest.mark.parametrize("keys, option, words", [
    ([], "encryption_keys", "at least one key"),
    (["ab" * 31], "encryption_keys[0]", "64 hex digits"),
    ([K1, "zz" * 32], "encryption_keys[1]", "not all hex"),
    ([K1, K1.upper()], "encryption_keys[1]", "listed twice"),
])
def test_bad_keys_name_the_one_at_fault(keys, option, words):
    with pytest.raises(SpecError) as e:
        esp.parse_keys(keys)
    assert e.value.option == option and words in e.value.msg


def test_a_new_peer_gets_its_sas_then_its_policy_and_a_second_run_nothing():
    view, done = run(XfrmView(), A, B, [K1], "complete")
    assert [c.split()[1:3] for c in done] == [["state", "add"], ["state", "add"], ["policy", "add"]]
    assert "mark 0xe5001005 mask 0xffffffff" in done[2] and "proto 17 dport 4789" in done[2]
    assert "reqid %d" % esp.tag(4101) in done[0] and "aead rfc4106(gcm(aes)) 0x" in done[0]
    assert run(view, A, B, [K1], "complete")[1] == []
    assert run(view, A, B, [K1], "inbound")[1] == []


def test_without_keys_only_what_belongs_to_gone_peers_goes():
    view, _done = run(XfrmView(), A, B, [K1], "complete")
    assert run(view, A, B, None, "complete")[1] == []
    gone, done = run(view, A, None, None, "complete")
    assert gone == XfrmView() and [c.split()[1:3] for c in done] == [["policy", "delete"]] + [["state", "delete"]] * 2


def test_a_rotation_played_on_two_hosts_never_sends_what_the_other_cannot_decrypt():
    views = {A: run(XfrmView(), A, B, [K1], "complete")[0], B: run(XfrmView(), B, A, [K1], "complete")[0]}

    def lossless():
        for src, dst in ((A, B), (B, A)):
            assert sending(views[src], src, dst) <= decrypts(views[dst], src, dst)
            assert len(sending(views[src], src, dst)) == 1

    lossless()
    # The role: stage inbound on every host, then complete on every host; checked after each host's run.
    for keys in ([K2, K1], [K2], [K3, K2], [K1, K3]):
        for stage in ("inbound", "complete"):
            for host, other in ((A, B), (B, A)):
                views[host] = run(views[host], host, other, keys, stage)[0]
                lossless()
        first = esp.parse_keys(keys)[0]
        assert sending(views[A], A, B) == {esp.derive(first, 4101, A, B)[0]}
        assert len(decrypts(views[A], B, A)) == len(keys)


def test_a_wrong_key_on_one_host_shares_no_sa_with_the_other():
    a = run(XfrmView(), A, B, [K1], "complete")[0]
    b = run(XfrmView(), B, A, [K3], "complete")[0]
    assert not sending(a, A, B) & decrypts(b, A, B) and not sending(b, B, A) & decrypts(a, B, A)


def test_the_firewall_drops_cleartext_vxlan_of_the_vni_and_marks_what_leaves():
    text = firewall.render({"sec": network(A, B)}, {})
    assert "chain input {\n\t\ttype filter hook input priority filter; policy accept;\n" \
           "\t\tudp dport 4789 @th,96,24 4101 meta ipsec missing drop\n" in text
    assert "chain ipsec_mark {\n\t\ttype route hook output priority mangle; policy accept;\n" \
           "\t\tudp dport 4789 @th,96,24 4101 meta mark set 0xe5001005\n" in text
    plain = firewall.render({"sec": network(A, B, encrypted=False)}, {})
    assert "chain input" not in plain and "chain ipsec_mark" not in plain


def test_keys_are_asked_for_exactly_when_the_network_is_encrypted():
    def spec(keys, state="present"):
        return PeersSpec(network="sec", peers=(), exclusive=False, state=state, encryption_keys=keys)
    with pytest.raises(SpecError, match="give its keys") as e:
        overlay.DRIVER.merge_peers(network(A, B), spec(None), [])
    assert e.value.option == "encryption_keys"
    overlay.DRIVER.merge_peers(network(A, B), spec(None, "absent"), [])
    with pytest.raises(SpecError, match="is not encrypted"):
        overlay.DRIVER.merge_peers(network(A, B, encrypted=False), spec((K1,)), [])
    with pytest.raises(SpecError) as e:
        overlay.DRIVER.merge_peers(network(A, B), spec(("00",)), [])
    assert e.value.option == "encryption_keys[0]"


def test_no_key_material_in_what_a_user_reads():
    _view, done = run(XfrmView(), A, B, [K1], "complete")
    texts = [c.text for c in esp.changes("sec", part(A, B), esp.parse_keys([K1]), "complete", XfrmView())]
    material = re.search(r"0x([0-9a-f]{72})", done[0]).group(1)
    assert not any(material in t or "11" * 32 in t for t in texts)
