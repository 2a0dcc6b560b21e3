# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The driver interface holds: a new driver is one module, and the core never names one."""

from __future__ import annotations

import ast
import os
import re

import pytest

from ansible_collections.cnm.fabric.plugins.module_utils import drivers, endpoints, firewall, networks, sandbox, spec
from ansible_collections.cnm.fabric.plugins.module_utils.model import Link, NsView
from ansible_collections.cnm.fabric.plugins.module_utils.run import Run, network_public

from ansible_collections.cnm.fabric.tests.unit import toy_driver

MODULE_UTILS = os.path.join(os.path.dirname(drivers.__file__), "..")
# A link kind and an nftables family, spelt as a driver's name only by coincidence.
KERNEL_VOCABULARY = {"kernel/messages.py": {"bridge", "macvlan", "ipvlan"}, "firewall.py": {"bridge"}}
# Option names (cnm_overlay_peer's, cnm_service's) that are also fields of a driver's part.
# Words that are a part's field and also something else in a core module: an option, a tc message's field.
# An endpoint's cni_chain and its attachment have the fields of the cni driver's parts (the same CNI words).
CHAIN_WORDS = {"cni_version", "plugins", "path", "container_id", "config", "result"}
OPTION_WORDS = {"spec.py": {"peers", "host_address", "port"} | CHAIN_WORDS, "chain.py": CHAIN_WORDS,
                "cni_ipam.py": CHAIN_WORDS | {"ipam"}, "services.py": {"port"}, "kernel/shaping.py": {"parent"},
                "kernel/messages.py": {"parent"}, "cni.py": {"plugins", "interface", "ipam"}}  # words of the CNI protocol
# A driver compared with a literal, or a list of them: driver == "x", driver in ("x", "y").
DRIVER_TEST = re.compile(r"""driver"?\]?\s*(==|!=|in|not in)\s*[("']|BRIDGED""")


class FakeKernel(object):
    """Namespaces as dicts of links; records every operation the plan applies."""

    def __init__(self):
        self.links = {None: {}}
        self.calls = []
        self.learned = {}

    def _ns(self, ns):
        return self.links.setdefault(ns, {})

    def view(self, ns=None):
        if ns not in self.links:
            return None
        return NsView(dict((n, Link(n, i + 1, "toy", 1500, True, None, None))
                           for i, n in enumerate(sorted(self.links[ns]))), {})

    def host_view(self):
        return self.view(None)

    def prefetch(self, keys):
        pass

    def netns_exists(self, ns):
        return ns in self.links

    def netns_busy(self, ns):
        return False

    def netns_half_made(self, ns):
        return False

    def netns_problem(self, ns):
        return None

    def sysctl_get(self, key):
        return None

    def neighbours(self, dev):
        return set(), {}

    def flush(self, final=False):
        pass

    def close(self):
        pass

    def netns_add(self, ns):
        self.calls.append(("netns_add", ns))
        self._ns(ns)

    def netns_del(self, ns):
        self.calls.append(("netns_del", ns))
        self.links.pop(ns)

    def toy_add(self, name, ns=None):
        self.calls.append(("toy_add", name, ns))
        self._ns(ns)[name] = True

    def addr_add(self, name, cidr, ns=None):
        self.calls.append(("addr_add", name, cidr, ns))

    def link_del(self, name, ns=None):
        self.calls.append(("link_del", name, ns))
        self._ns(ns).pop(name, None)


@pytest.fixture
def toy(monkeypatch, tmp_path):
    monkeypatch.setitem(drivers.DRIVERS, "toy", toy_driver.DRIVER)
    # The fake kernel's sandboxes are not the host's: their files go to a directory of the test's.
    monkeypatch.setattr(sandbox, "ETC_NETNS", str(tmp_path / "etc-netns"))
    monkeypatch.setattr(firewall, "present_tables", lambda state_dir: [])
    return FakeKernel()


def run(state_dir, kernel):
    return Run(str(state_dir), False, kernel=kernel)


def endpoint_spec(**kw):
    params = dict(name="web", network="play", sandbox="web", sandbox_path=None, ifname=None, ipv4_address=None,
                  mac_address=None, default_route=None, aliases=[], publish=[], state="present")
    params.update(kw)
    return spec.endpoint_spec(params)


def test_a_toy_driver_makes_and_removes_a_network_and_an_endpoint(toy, tmp_path):
    params = dict(name="play", driver="toy", state="present", subnet="10.77.0.0/24", toy={"link": "toy-play"})
    with run(tmp_path, toy) as r:
        net = networks.network_present(r, networks.spec_of(params))
        endpoints.endpoint_present(r, endpoint_spec())
        assert r.finish()
    assert net["toy"] == {"link": "toy-play"} and net["subnet"] == "10.77.0.0/24"
    assert network_public(net)["toy"] == {"link": "toy-play"} and "link" not in network_public(net)
    assert toy.calls == [("toy_add", "toy-play", None), ("netns_add", "web"), ("toy_add", "toy0", "web"),
                         ("addr_add", "toy0", "10.77.0.2/24", "web")]
    with run(tmp_path, toy) as r:  # the same request again: nothing to do
        networks.network_present(r, networks.spec_of(params))
        endpoints.endpoint_present(r, endpoint_spec())
        assert not r.finish() and r.log == []
    del toy.calls[:]
    with run(tmp_path, toy) as r:
        networks.network_absent(r, networks.spec_of(dict(params, state="absent", force=True)))
        assert r.finish()
        assert r.networks == {} and r.endpoints == {} and r.sandboxes == {}
        assert r.ipam().pools() == {}
    assert toy.calls == [("link_del", "toy-play", None), ("netns_del", "web")], "sandboxes gone for good go last"
    assert toy.links == {None: {}}


def test_a_toy_driver_option_is_checked_by_the_driver_and_foreign_groups_refused(toy):
    with pytest.raises(spec.SpecError) as e:
        networks.spec_of(dict(name="play", driver="toy", state="present", toy={}))
    assert e.value.option == "toy.link"
    with pytest.raises(spec.SpecError) as e:
        networks.spec_of(dict(name="play", driver="bridge", state="present", toy={"link": "x"}))
    assert e.value.option == "toy" and "driver: toy" in e.value.msg


def _strings(path):
    """String constants of a module, docstrings left out."""
    tree = ast.parse(open(path).read())
    docs = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and node.body \
                and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant):
            docs.add(id(node.body[0].value))
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and id(n) not in docs]


def test_no_file_outside_drivers_names_a_driver():
    names = set(drivers.DRIVERS) | {"macvlan", "ipvlan"}
    found = []
    for fname in _core_files():
        path = os.path.join(MODULE_UTILS, fname)
        found.extend((fname, m.group(0)) for m in DRIVER_TEST.finditer(open(path).read()))
        for value in _strings(path):
            if value in names - KERNEL_VOCABULARY.get(fname, set()):
                found.append((fname, value))
    assert found == []


def _parts():
    return set(part for drv in drivers.DRIVERS.values() for part in drv.network_parts + drv.endpoint_parts)


def _core_files():
    """Every module of module_utils but the drivers', by its path there."""
    for top, dirs, files in os.walk(MODULE_UTILS):
        dirs[:] = sorted(d for d in dirs if d not in ("drivers", "__pycache__"))
        for fname in sorted(files):
            if fname.endswith(".py"):
                yield os.path.relpath(os.path.join(top, fname), MODULE_UTILS)


def _core_modules():
    for fname in _core_files():
        yield fname, ast.parse(open(os.path.join(MODULE_UTILS, fname)).read())


def test_the_core_imports_no_driver_but_the_registry_and_the_interface():
    """A driver's parts are its own: outside drivers/, only the registry (drivers) and the
    interface (drivers.base) are imported, so no core module can name a part's type."""
    package = drivers.__name__
    found = []
    for fname, tree in _core_modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == package:
                found.extend((fname, alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(package + ".") \
                    and node.module != package + ".base":
                found.append((fname, node.module))
    assert found == []


def test_the_core_reads_no_field_of_a_driver_part():
    """Outside drivers/, no record is read at a part's key or at a part's field name (``x["bridge"]``,
    ``x.get("vni")``): the core copies parts whole and asks the driver the rest."""
    keys = set(part.KEY for part in _parts())
    fields = set(name for part in _parts() for name in part.names())
    found = []
    for fname, tree in _core_modules():
        for node in ast.walk(tree):
            key = None
            if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
                key = node.slice.value
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("get", "pop") \
                    and node.args and isinstance(node.args[0], ast.Constant):
                key = node.args[0].value
            if key in keys or key in fields - OPTION_WORDS.get(fname, set()):
                found.append((fname, node.lineno, key))
    assert found == []
