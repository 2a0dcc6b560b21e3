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
import urllib.parse
from typing import Any, Callable, Dict, List, Mapping, Tuple, Type

from ansible_collections.cnm.fabric.plugins.module_utils.errors import CnmError
from ansible_collections.cnm.fabric.plugins.module_utils.ipam.file import SpaceBackend

try:
    import etcd3gw
    import etcd3gw.exceptions
    import requests
    HAS_ETCD3GW = True
    ETCD3GW_IMPORT_ERROR = None
    # What a request to etcd raises: its own errors, HTTP's, and the socket's.
    ETCD_ERRORS: Tuple[Type[Exception], ...] = (etcd3gw.exceptions.Etcd3Exception, requests.RequestException, OSError)
except ImportError:
    HAS_ETCD3GW = False
    ETCD3GW_IMPORT_ERROR = traceback.format_exc()
    ETCD_ERRORS = (OSError,)


class Conflict(Exception):
    """Another writer committed first: plan again."""


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


DEFAULT_PORT = 2379  # etcd's client port
# What etcd answers a request that lacks a user, or one whose user may not do it.
AUTH_ERRORS = ("user name is empty", "permission denied", "invalid auth token", "authentication failed")


def parse_endpoint(url: Any, option: str) -> Tuple[str, str, int]:
    """(scheme, host, port) of an etcd client URL such as ``https://etcd1:2379``; the port defaults to
    etcd's. Anything else a URL can hold (a path, a query, a user) is refused: the client speaks to
    the server's root, and credentials go in ``backend_options.user`` and ``password``."""
    try:
        parts = urllib.parse.urlsplit(str(url).strip())
        port = parts.port
    except ValueError as e:
        raise CnmError("%r is not a URL like http://127.0.0.1:2379 (%s)" % (url, e), option)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CnmError("%r is not a URL like http://127.0.0.1:2379 (http or https, then a host)" % (url,), option)
    extra = [what for what, given in (("a path", parts.path not in ("", "/")), ("a query", parts.query),
                                      ("a fragment", parts.fragment), ("a user name or password", parts.username))
             if given]
    if extra:
        raise CnmError("%r has %s; give only scheme, host and port (credentials go in backend_options.user and "
                       "backend_options.password)" % (url, " and ".join(extra)), option)
    return parts.scheme, parts.hostname, port or DEFAULT_PORT


def check_options(options: Mapping[str, Any]) -> List[Tuple[str, str, int]]:
    """``backend_options`` that come in pairs, and every endpoint URL, before anything is asked of etcd."""
    for one, other in (("cert", "key"), ("key", "cert"), ("user", "password"), ("password", "user")):
        if options.get(one) and not options.get(other):
            raise CnmError("is required with backend_options.%s" % one, "backend_options." + other)
    return [parse_endpoint(url, "backend_options.endpoints[%d]" % i)
            for i, url in enumerate(options.get("endpoints") or ["http://127.0.0.1:%d" % DEFAULT_PORT])]


def _reason(error: BaseException) -> str:
    """What an etcd3gw or requests error says, in one line."""
    detail = getattr(error, "detail_text", None)
    text = " ".join(str(x) for x in (str(error), detail) if x and str(x) != "None")
    return " ".join(text.split()) or type(error).__name__


def connect(options: Mapping[str, Any]) -> Any:
    """An etcd3gw client for the first endpoint of ``backend_options`` that answers, authenticated
    with etcd's auth API when ``user`` and ``password`` are given."""
    if not HAS_ETCD3GW:
        raise CnmError("backend etcd needs the Python library etcd3gw where the module runs "
                       "(pip install etcd3gw)", "backend")
    errors: List[str] = []
    for scheme, host, port in check_options(options):
        kwargs: Dict[str, Any] = dict(host=host, port=port, protocol=scheme, timeout=options.get("timeout") or 5)
        if options.get("ca_cert"):
            kwargs["ca_cert"] = options["ca_cert"]
        if options.get("cert"):
            kwargs["cert_cert"] = options["cert"]
            kwargs["cert_key"] = options["key"]
        client = etcd3gw.client(**kwargs)
        try:
            client.status()
        except ETCD_ERRORS as e:
            errors.append("%s: %s" % (client.base_url, _reason(e)))
            continue
        if options.get("user"):
            authenticate(client, options["user"], options["password"])
        return client
    raise CnmError("no etcd endpoint answered (%s)" % "; ".join(errors), "backend_options.endpoints")


def authenticate(client: Any, user: str, password: str) -> None:
    """A token from etcd's auth API (``/v3/auth/authenticate``), sent with every later request."""
    try:
        reply = client.post(client.get_url("/auth/authenticate"), json={"name": user, "password": password})
    except ETCD_ERRORS as e:
        raise CnmError("etcd at %s refused user %r: %s" % (client.base_url, user, _reason(e)), "backend_options.user")
    if not reply.get("token"):
        raise CnmError("etcd at %s gave no token for user %r: is authentication enabled there (etcdctl auth enable)?"
                       % (client.base_url, user), "backend_options.user")
    client.session.headers["Authorization"] = reply["token"]


def _etcd(client: Any, what: str, call: Callable[..., Any], *args: Any) -> Any:
    """``call(*args)``, with an etcd or connection error made one that names the option at fault."""
    try:
        return call(*args)
    except ETCD_ERRORS as e:
        option = "backend_options.user" if any(w in _reason(e) for w in AUTH_ERRORS) else "backend_options.endpoints"
        raise CnmError("etcd at %s could not %s: %s" % (client.base_url, what, _reason(e)), option)


class EtcdBackend(SpaceBackend):
    def __init__(self, client: Any, space: str, prefix: str = "/cnm") -> None:
        self.client = client
        self.space = space
        self.key = "%s/ipam/%s" % (prefix.rstrip("/"), space)
        found = _etcd(client, "read " + self.key, lambda: client.get(self.key, metadata=True))
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

    def changed(self) -> bool:
        return json.dumps(self.data, sort_keys=True) != self.loaded

    def commit(self) -> None:
        if not self.changed():
            return
        txn = {
            "compare": [{"key": _b64(self.key), "result": "EQUAL", "target": "MOD",
                         "mod_revision": self.revision}],
            "success": [{"request_put": {"key": _b64(self.key),
                                         "value": _b64(json.dumps(self.data, sort_keys=True))}}],
            "failure": [],
        }
        if not _etcd(self.client, "write " + self.key, self.client.transaction, txn).get("succeeded"):
            raise Conflict(self.key)
        self.loaded = json.dumps(self.data, sort_keys=True)
