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
