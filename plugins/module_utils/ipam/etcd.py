# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The etcd IPAM backend, for fleets and several controllers.

A space is one key, ``PREFIX/ipam/SPACE``, holding the same JSON the file backend
keeps. A run reads it once with its revision, allocates in memory, and commits with
one compare-and-swap transaction on that revision; if another controller committed
in between, the transaction fails and the whole call is planned again on fresh data
(``Conflict``). Two controllers therefore never hand out one subnet or address twice.
The etcd v3 JSON gateway is spoken through the etcd3gw client library.
"""

from __future__ import annotations

import base64
import json
import traceback

from ansible_collections.cnm.fabric.plugins.module_utils.errors import CnmError
from ansible_collections.cnm.fabric.plugins.module_utils.ipam.file import SpaceBackend

try:
    import etcd3gw
    HAS_ETCD3GW = True
    ETCD3GW_IMPORT_ERROR = None
except ImportError:
    HAS_ETCD3GW = False
    ETCD3GW_IMPORT_ERROR = traceback.format_exc()


class Conflict(Exception):
    """Another writer committed first: plan again."""


def _b64(text):
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def connect(options):
    """An etcd3gw client for the first endpoint of ``backend_options`` that answers."""
    if not HAS_ETCD3GW:
        raise CnmError("backend etcd needs the Python library etcd3gw where the module runs "
                       "(pip install etcd3gw)", "backend")
    endpoints = options.get("endpoints") or ["http://127.0.0.1:2379"]
    errors = []
    for url in endpoints:
        scheme, dummy, rest = url.partition("://")
        if not rest:
            raise CnmError("%r is not a URL like http://127.0.0.1:2379" % url, "backend_options.endpoints")
        host, dummy, port = rest.rstrip("/").rpartition(":")
        kwargs = dict(host=host.strip("[]"), port=int(port), protocol=scheme,
                      timeout=options.get("timeout") or 5)
        if options.get("ca_cert"):
            kwargs["ca_cert"] = options["ca_cert"]
        if options.get("cert"):
            kwargs["cert_cert"] = options["cert"]
            kwargs["cert_key"] = options.get("key")
        client = etcd3gw.client(**kwargs)
        try:
            client.status()
            return client
        except Exception as e:  # pylint: disable=broad-except
            errors.append("%s: %s" % (url, e))
    raise CnmError("no etcd endpoint answered (%s)" % "; ".join(errors), "backend_options.endpoints")


class EtcdBackend(SpaceBackend):
    def __init__(self, client, space, prefix="/cnm"):
        self.client = client
        self.space = space
        self.key = "%s/ipam/%s" % (prefix.rstrip("/"), space)
        found = client.get(self.key, metadata=True)
        if found:
            value, meta = found[0]
            self.revision = int(meta.get("mod_revision", 0))
            try:
                self.data = json.loads(value)
            except ValueError as e:
                raise CnmError("etcd key %s is not valid JSON (%s); it was left as it is" % (self.key, e),
                               "backend_options.prefix")
        else:
            self.revision = 0
            self.data = {"pools": {}}
        self.loaded = json.dumps(self.data, sort_keys=True)

    def changed(self):
        return json.dumps(self.data, sort_keys=True) != self.loaded

    def commit(self):
        if not self.changed():
            return
        txn = {
            "compare": [{"key": _b64(self.key), "result": "EQUAL", "target": "MOD",
                         "mod_revision": self.revision}],
            "success": [{"request_put": {"key": _b64(self.key),
                                         "value": _b64(json.dumps(self.data, sort_keys=True))}}],
            "failure": [],
        }
        if not self.client.transaction(txn).get("succeeded"):
            raise Conflict(self.key)
        self.loaded = json.dumps(self.data, sort_keys=True)
