# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the collection's metadata promises, checked against its modules' documentation."""

from __future__ import annotations

import importlib
import os

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODULES = sorted(f[:-3] for f in os.listdir(os.path.join(ROOT, "plugins", "modules")) if f.endswith(".py"))


def documentation(module):
    """A module's DOCUMENTATION with its fragments' attributes merged in, as ansible-doc shows it."""
    doc = yaml.safe_load(importlib.import_module("ansible_collections.cnm.fabric.plugins.modules." + module)
                         .DOCUMENTATION)
    fragments = importlib.import_module("ansible_collections.cnm.fabric.plugins.doc_fragments.common")
    attributes = {}
    if "cnm.fabric.common.attributes" in doc.get("extends_documentation_fragment", []):
        attributes.update(yaml.safe_load(fragments.ModuleDocFragment.ATTRIBUTES)["attributes"])
    attributes.update(doc.get("attributes") or {})
    return doc, attributes


def argument_spec(module):
    """A module's argument spec: its call's (module_utils.calls), or its own ARGUMENT_SPEC."""
    loaded = importlib.import_module("ansible_collections.cnm.fabric.plugins.modules." + module)
    return loaded.CALL.spec if hasattr(loaded, "CALL") else getattr(loaded, "ARGUMENT_SPEC", {})


def test_every_module_its_docs_put_in_the_action_group_is_in_it():
    with open(os.path.join(ROOT, "meta", "runtime.yml")) as f:
        group = yaml.safe_load(f)["action_groups"]["cnm"]
    claimed = []
    for module in MODULES:
        doc, attributes = documentation(module)
        if "cnm.fabric.cnm" in (attributes.get("action_group") or {}).get("membership", []):
            claimed.append(module)
        assert "state_dir" in doc.get("options", {}) or "cnm.fabric.common" in doc["extends_documentation_fragment"]
    assert sorted(group) == claimed == MODULES


SECRET_WORDS = ("password", "passphrase", "secret", "token", "encryption_key")


def _secrets(options, where):
    """(option path, no_log) of every option, at any depth, whose name says it holds a secret."""
    out = []
    for name, option in (options or {}).items():
        if any(word in name for word in SECRET_WORDS):
            out.append(("%s%s" % (where, name), option.get("no_log")))
        out += _secrets(option.get("suboptions") or option.get("options"), "%s%s." % (where, name))
    return out


def test_every_secret_option_is_never_logged():
    """Module options and role arguments whose names say they hold a secret are no_log, and there are some."""
    found = []
    for module in MODULES:
        found += _secrets(argument_spec(module), module + ":")
    for role in sorted(os.listdir(os.path.join(ROOT, "roles"))):
        with open(os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml")) as f:
            for entry, spec in yaml.safe_load(f)["argument_specs"].items():
                found += _secrets(spec.get("options"), "%s/%s:" % (role, entry))
    paths = dict(found)
    assert {"overlay_network/main:overlay_network_encryption_keys", "overlay_network/main:overlay_network_ipam_"
            "backend_options.password", "cnm_ipam_pool:backend_options.password"} <= set(paths), paths
    assert [path for path, no_log in found if no_log is not True] == []


def test_every_module_documents_itself_in_valid_yaml():
    """DOCUMENTATION, EXAMPLES and RETURN parse (ansible-doc refuses a module whose RETURN does not)."""
    for module in MODULES:
        plugin = importlib.import_module("ansible_collections.cnm.fabric.plugins.modules." + module)
        for part in ("DOCUMENTATION", "EXAMPLES", "RETURN"):
            assert yaml.safe_load(getattr(plugin, part)), (module, part)


def _options(options, nested):
    """Options, from DOCUMENTATION (``nested``: "suboptions") or an argument spec ("options"), as
    the keys validate-modules compares."""
    out = {}
    for name, item in (options or {}).items():
        entry = dict((k, item[k]) for k in ("type", "choices", "default", "elements", "required")
                     if k in item and not (k == "required" and item[k] is False))
        if item.get(nested):
            entry["options"] = _options(item[nested], nested)
        out[name] = entry
    return out


def test_cnm_network_documents_every_registered_driver_and_its_options_as_declared():
    """cnm_network's argument spec takes its driver choices and option groups from the drivers'
    own declarations; its DOCUMENTATION must say the same (a new driver documents itself there)."""
    from ansible_collections.cnm.fabric.plugins.module_utils import drivers
    doc = documentation("cnm_network")[0]
    assert doc["options"]["driver"]["choices"] == list(drivers.DRIVERS)
    documented, declared = _options(doc["options"], "suboptions"), _options(argument_spec("cnm_network"), "options")
    for group in drivers.option_spec():
        assert documented[group] == declared[group], group
    assert set(documented) == set(declared) - {"state_dir"}  # state_dir: the common doc fragment's


def test_the_results_document_every_part_of_a_record_as_its_driver_declares_it():
    """cnm_network's and cnm_endpoint's RETURN document each part (drivers' ``network_parts`` and
    ``endpoint_parts``) under its key, with exactly the part's fields (ipvlan's: macvlan's, said once)."""
    from ansible_collections.cnm.fabric.plugins.module_utils import drivers
    for module, key, attribute in (("cnm_network", "network", "network_parts"),
                                   ("cnm_endpoint", "endpoint", "endpoint_parts")):
        loaded = importlib.import_module("ansible_collections.cnm.fabric.plugins.modules." + module)
        documented = yaml.safe_load(loaded.RETURN)[key]["contains"]
        for part in set(p for drv in drivers.DRIVERS.values() for p in getattr(drv, attribute)):
            # A part that only renames another (IpvlanPart, a MacvlanPart) points to its documentation.
            fields = documented[part.KEY].get("contains") or documented[part.__mro__[1].KEY]["contains"]
            assert sorted(fields) == sorted(part.names()), part.KEY
