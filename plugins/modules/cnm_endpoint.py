#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cnm_endpoint
short_description: Join a sandbox (network namespace) to a container network
version_added: 0.1.0
description:
  - An endpoint is one interface inside a sandbox, joined to one network. On a C(bridge)
    network it is a veth pair whose host end is a port of the bridge; its address comes
    from the network's pool unless given.
  - The sandbox is a named network namespace (O(sandbox), created when missing and removed
    with its last endpoint) or an existing one given by path (O(sandbox_path)), such as a
    running container's C(/proc/PID/ns/net).
  - On a C(cni) network the endpoint is an attachment made by the network's CNI plugins (ADD, with
    the interface named O(ifname)); its addresses are those the plugins' IPAM returned, and only
    O(ifname), O(aliases), O(sysctls) and the sandbox's resolver and hosts options are taken. With
    the collection's IPAM (O(cnm.fabric.cnm_network#module:cni.ipam=cnm)), its addresses come from
    the network's pools, and O(ipv4_address), O(ipv6_address) and O(default_route) are taken too.
  - Every sandbox gets a hosts file naming the endpoints (names and aliases) of the networks
    it joins, and a resolv.conf with the host's non-loopback resolvers. For a named sandbox
    they are C(/etc/netns/NAME/hosts) and C(resolv.conf), which C(ip netns exec NAME) mounts
    over C(/etc); for a sandbox given by path, they are written under O(state_dir) and
    returned in RV(endpoint) as C(hosts_file).
  - Changing the address, MAC address, interface name, default route and its metric, routes,
    bandwidth, aliases, published ports or sysctls updates the endpoint in place. A veth deleted
    by hand is recreated on the next run.
  - With O(endpoints), many endpoints converge in one call - each namespace is observed once,
    only the netlink messages that change something are sent, and the records and the
    nftables tables are written once. A rerun that changes nothing writes nothing.
  - Every object is recorded before it is made and forgotten only after it is gone, so a run
    that is killed halfway leaves no orphan; the next run finishes the work.
author:
  - cnm.fabric maintainers (@cnm-fabric)
options:
  name:
    description:
      - Name of the endpoint, unique within its network; other sandboxes resolve it to its address.
      - Exactly one of O(name) and O(endpoints) is required.
    type: str
  network:
    description:
      - Name of the network to join, made earlier with M(cnm.fabric.cnm_network).
      - Required with O(name); with O(endpoints), the network of the items that do not name one.
    type: str
  endpoints:
    description:
      - Many endpoints in one call, each with the options of a single endpoint. O(state) applies to
        all of them. Ansible checks each item as it checks the options of a single endpoint.
      - An item with neither C(sandbox) nor C(sandbox_path) goes into a sandbox named after it.
    type: list
    elements: dict
    suboptions:
      name:
        description: As O(name).
        type: str
        required: true
      network:
        description: As O(network); defaults to O(network).
        type: str
      sandbox:
        description: As O(sandbox); defaults to the item's O(endpoints[].name). Not with O(endpoints[].sandbox_path).
        type: str
      sandbox_path:
        description: As O(sandbox_path).
        type: path
      ifname:
        description: As O(ifname).
        type: str
      ipv4_address:
        description: As O(ipv4_address).
        type: str
      ipv6_address:
        description: As O(ipv6_address).
        type: str
        version_added: 0.2.0
      mac_address:
        description: As O(mac_address).
        type: str
      default_route:
        description: As O(default_route).
        type: bool
      default_route_metric:
        description: As O(default_route_metric).
        type: int
        version_added: 0.2.0
      bandwidth:
        description: As O(bandwidth).
        type: dict
        version_added: 0.2.0
        suboptions:
          ingress_rate:
            description: As O(bandwidth.ingress_rate).
            type: str
          ingress_burst:
            description: As O(bandwidth.ingress_burst).
            type: str
          egress_rate:
            description: As O(bandwidth.egress_rate).
            type: str
          egress_burst:
            description: As O(bandwidth.egress_burst).
            type: str
      cni_chain:
        description: As O(cni_chain).
        type: dict
        version_added: 0.2.0
        suboptions:
          plugins:
            description: As O(cni_chain.plugins).
            type: list
            elements: dict
            required: true
          cni_version:
            description: As O(cni_chain.cni_version).
            type: str
            choices: ["1.0.0", "1.1.0", "0.4.0"]
            default: "1.0.0"
          path:
            description: As O(cni_chain.path).
            type: list
            elements: path
      routes:
        description: As O(routes).
        type: list
        elements: dict
        version_added: 0.2.0
        suboptions:
          dst:
            description: As O(routes[].dst).
            type: str
            required: true
          gateway:
            description: As O(routes[].gateway).
            type: str
          metric:
            description: As O(routes[].metric).
            type: int
            default: 0
          table:
            description: As O(routes[].table).
            type: int
            default: 254
      aliases:
        description: As O(aliases).
        type: list
        elements: str
        default: []
      publish:
        description: As O(publish).
        type: list
        elements: dict
        default: []
        suboptions:
          host_port:
            description: As O(publish[].host_port).
            type: raw
          container_port:
            description: As O(publish[].container_port).
            type: raw
            required: true
          protocol:
            description: As O(publish[].protocol).
            type: str
            choices: [tcp, udp, sctp]
            default: tcp
          host_ip:
            description: As O(publish[].host_ip).
            type: str
      dns:
        description: As O(dns).
        type: list
        elements: str
        version_added: 0.2.0
      dns_search:
        description: As O(dns_search).
        type: list
        elements: str
        version_added: 0.2.0
      dns_options:
        description: As O(dns_options).
        type: list
        elements: str
        version_added: 0.2.0
      extra_hosts:
        description: As O(extra_hosts).
        type: dict
        version_added: 0.2.0
      sysctls:
        description: As O(sysctls).
        type: dict
        version_added: 0.2.0
  exclusive:
    description:
      - With O(endpoints) and O(state=present), remove the endpoints of O(network) and of the
        networks the items name that are not listed - the way to purge what is no longer declared.
    type: bool
    default: false
  sandbox:
    description:
      - Name of the network namespace (C(/run/netns/NAME)); created when missing.
      - Exactly one of O(sandbox) and O(sandbox_path) is required with O(state=present).
    type: str
  sandbox_path:
    description:
      - Path of an existing network namespace, for example C(/proc/PID/ns/net) of a container.
        It is never created or removed.
    type: path
  ifname:
    description:
      - Name of the interface inside the sandbox. Defaults to the first free C(ethN).
    type: str
  ipv4_address:
    description:
      - Address of the endpoint. Defaults to the next free address of the network's pool.
      - An error on an IPv6-only network (O(cnm.fabric.cnm_network#module:ipv4=false)).
    type: str
  ipv6_address:
    description:
      - IPv6 address of the endpoint on a dual-stack or IPv6-only network (made with
        O(cnm.fabric.cnm_network#module:ipv6=true)). Defaults to the next free address of the
        network's IPv6 pool. An error on a network without IPv6.
      - Required on an IPv6-only overlay network, whose endpoints take it from the fleet pool.
    type: str
    version_added: 0.2.0
  mac_address:
    description:
      - MAC address of the interface. Defaults to C(02:42) followed by the four octets of
        the IPv4 address, as Docker does.
      - On an IPv6-only network it defaults to C(06) followed by the last 40 bits of the IPv6
        address, which must then be among the first 2^40 addresses of the subnet (so that no two
        endpoints derive the same MAC); an address further in needs a MAC given here.
    type: str
  default_route:
    description:
      - Whether the sandbox's default route goes through this endpoint's gateway.
      - Defaults to true for a sandbox's first endpoint on a network that is not internal, false
        for the others.
      - "An endpoint of an internal network (O(cnm.fabric.cnm_network#module:internal)) gives no
        default route unless asked: its gateway forwards nowhere, so without one a connection to
        the outside fails at once (C(Network is unreachable)), as on Docker."
      - Several endpoints of one sandbox may give it a default route, each at its own
        O(default_route_metric); the kernel uses the one of the lowest metric. Two at the same metric
        are an error.
    type: bool
  default_route_metric:
    description:
      - The metric of the endpoint's default routes, IPv4 and IPv6 (the kernel's default, V(0), keeps
        an IPv6 route at 1024). Giving it asks for a default route, unless O(default_route=false) or
        the network is internal.
      - The sandbox's default route is the one of the lowest metric among its endpoints' (Docker's
        C(gw-priority) with the order reversed, netavark's C(metric)).
      - An error where the network's driver gives no default route (C(null), C(host), C(dummy)).
    type: int
    version_added: 0.2.0
  bandwidth:
    description:
      - Limits of the endpoint's traffic in each direction, as token buckets (C(tbf)) on its host side,
        as the CNI C(bandwidth) plugin sets them. What goes into the sandbox is shaped as it leaves
        by the veth's host end; what the sandbox sends is redirected, as it comes in by that end, to
        an C(ifb) device of the endpoint's (C(cnmb...)) and shaped there. A packet waits at most 25 ms
        in a bucket's queue; beyond that it is dropped, which TCP takes as the signal to slow down.
      - Each bucket is read back and set only when it differs, changed in place (the link and its
        connections stay), made again with a veth made again, and
        reported as drift by M(cnm.fabric.cnm_info). A direction taken out of the dict is no longer
        shaped, and the C(ifb) goes with the last of it or with the endpoint.
      - "An error on C(macvlan) and C(ipvlan) networks: their endpoints have no side on the host to
        shape (shape the parent instead), and on C(null), C(host) and C(dummy) ones."
    type: dict
    version_added: 0.2.0
    suboptions:
      ingress_rate:
        description:
          - The rate of what goes into the sandbox, with units as C(tc) writes them - bits per second
            (V(bit), V(kbit), V(mbit), V(gbit), and V(kibit) to V(gibit) in powers of 1024) or bytes per
            second (V(bps), V(kbps), V(mbps), V(gbps)) - such as V(10mbit), up to 34 Gbit/s. A number
            without units is an error, as it is ambiguous.
          - Omitted, that direction is not shaped.
        type: str
      ingress_burst:
        description:
          - How much may go at once above the rate, in bytes with units as C(tc) writes them (V(b),
            V(kb), V(mb), V(gb), powers of 1024; or V(kbit), V(mbit)), such as V(64kb). At least one
            frame of the network (its MTU and 14 bytes), at most V(1gb).
          - Defaults to 10 ms of the rate, and at least V(32kb).
        type: str
      egress_rate:
        description: The rate of what the sandbox sends, as O(bandwidth.ingress_rate).
        type: str
      egress_burst:
        description: How much the sandbox may send at once above the rate, as O(bandwidth.ingress_burst).
        type: str
  cni_chain:
    description:
      - CNI plugins run on the endpoint after it is joined, as a runtime runs the plugins of a chain
        after its main one - meta-plugins such as the reference C(bandwidth), C(tuning), C(sbr) and
        C(firewall), or a third party's. Their ADD is given as C(prevResult) what the join made - the
        endpoint's host links (its veth's host end), its interface in the sandbox with its MAC, and its
        addresses with their prefixes and gateways. Their DEL is run, given their result, when the
        endpoint leaves or the chain is taken off.
      - The chain is an attachment of its own (a container ID of its own), returned as
        C(cni_chain_attachment); it is checked with CHECK on every run, and made again (DEL, then ADD)
        when that fails, when the chain or the endpoint's addresses change, when its link or sandbox is
        made again, or when a run was killed before it recorded the chain's result.
      - A chain lives as long as its endpoint's link - a meta-plugin's DEL may leave what its ADD set on
        it (C(bandwidth) leaves its qdiscs on the host end) - so where the chain is DELeted while the
        endpoint stays (taken off, or made again for any of those reasons), the link is made again too,
        cutting its connections once.
      - For the endpoints of the collection's drivers that have an interface; on a C(cni) network, put
        the plugins in its list (O(cnm.fabric.cnm_network#module:cni.plugins)) instead.
    type: dict
    version_added: 0.2.0
    suboptions:
      plugins:
        description:
          - The plugins, in order, each its configuration as for O(cnm.fabric.cnm_network#module:cni.plugins)
            (the network's name and the chain's version are added to each).
        type: list
        elements: dict
        required: true
      cni_version:
        description: The CNI version of the chain; at V(1.1.0), each plugin is asked with C(STATUS) before each C(ADD).
        type: str
        choices: ["1.0.0", "1.1.0", "0.4.0"]
        default: "1.0.0"
      path:
        description:
          - The directories the plugins are looked for in (C(CNI_PATH)), as O(cnm.fabric.cnm_network#module:cni.path).
        type: list
        elements: path
  routes:
    description:
      - Static routes through the endpoint's interface inside the sandbox (netavark's C(--route),
        the CNI plugins' C(routes)).
      - Each is set only when the sandbox does not have it, changed in place, reported as drift by
        M(cnm.fabric.cnm_info) when removed or changed by hand, and made again with its interface. A
        route taken out of the list is removed; the rest go with the endpoint.
      - A sandbox has one route of a destination at a metric in a table, so two endpoints of one
        sandbox may not both give it.
      - An error where the network's driver gives no default route (C(null), C(host), C(dummy)).
    type: list
    elements: dict
    version_added: 0.2.0
    suboptions:
      dst:
        description:
          - The destination, a network in CIDR form (IPv4, or IPv6 on a dual-stack network).
          - The main table's default routes (V(0.0.0.0/0), V(::/0)) are O(default_route)'s; a default
            route of another O(routes[].table) is allowed.
        type: str
        required: true
      gateway:
        description:
          - The next hop, an address in the endpoint's network's subnet of the same family (or an
            IPv6 link-local address). Omitted, the destination is on the link.
        type: str
      metric:
        description:
          - The route's metric (priority); the lower wins between routes of one destination. V(0) is
            kept by the kernel as 1024 for an IPv6 route, and returned so.
        type: int
        default: 0
      table:
        description:
          - The routing table, from 1 to 4294967295 (V(254) is the main table; V(255), the kernel's
            local table, is refused). Policy rules that select a table are the user's to add.
        type: int
        default: 254

  aliases:
    description:
      - More names for the endpoint in the hosts files of its network's sandboxes.
    type: list
    elements: str
    default: []
  publish:
    description:
      - Ports of the endpoint published on the host (DNAT), reachable from other hosts,
        from other namespaces and from the host itself, C(127.0.0.1) included.
    type: list
    elements: dict
    default: []
    suboptions:
      host_port:
        description:
          - Port on the host, or a range of ports such as V(8000-8010). Defaults to
            O(publish[].container_port).
          - A range maps one to one onto a range of O(publish[].container_port) of the same length.
        type: raw
      container_port:
        description:
          - Port inside the sandbox, or a range of ports such as V(8000-8010).
        type: raw
        required: true
      protocol:
        description:
          - Transport protocol.
        type: str
        choices: [tcp, udp, sctp]
        default: tcp
      host_ip:
        description:
          - Host address the port is published on; defaults to the network's
            O(cnm.fabric.cnm_network#module:bridge.host_binding_ip).
          - V(0.0.0.0) publishes on every address of the host, IPv6 ones included when the
            endpoint has an IPv6 address; V(::) on every IPv6 address only; an IPv6 address
            requires a dual-stack network.
          - The host's IPv6 loopback address V(::1) cannot be used. The kernel drops a packet whose
            source is C(::1) on any other interface, and IPv6 has no equivalent of IPv4's
            C(route_localnet), so only a proxy process could forward it, which the collection does
            not run.
        type: str
  dns:
    description:
      - Name servers of the sandbox's resolv.conf, in place of the host's (Docker's C(--dns)).
      - The resolver options are the sandbox's, so the endpoints of one sandbox that give them
        must give the same; an endpoint that gives none takes those of the others.
    type: list
    elements: str
    version_added: 0.2.0
  dns_search:
    description:
      - Search domains of the sandbox's resolv.conf, in place of the host's (Docker's C(--dns-search)).
    type: list
    elements: str
    version_added: 0.2.0
  dns_options:
    description:
      - Resolver options of the sandbox's resolv.conf, such as V(ndots:2), in place of the host's
        (Docker's C(--dns-option)).
    type: list
    elements: str
    version_added: 0.2.0
  extra_hosts:
    description:
      - More lines of the sandbox's hosts file, as addresses by host name (Docker's C(--add-host)).
      - Endpoints of one sandbox may give different names; one name with two addresses is an error.
    type: dict
    version_added: 0.2.0
  sysctls:
    description:
      - C(net.*) sysctls of the endpoint's sandbox, by key, set inside the sandbox (Docker's
        C(--sysctl) and C(com.docker.network.endpoint.sysctls), the CNI C(tuning) plugin's C(sysctl)).
      - In a key, V(IFNAME) stands for the endpoint's interface, as in
        V(net.ipv4.conf.IFNAME.rp_filter); the keys of one interface (C(net.ipv4.conf), C(net.ipv6.conf),
        C(net.ipv4.neigh), C(net.ipv6.neigh)) may name no other, but V(all) and V(default) are
        the sandbox's.
      - A key that names no interface is the sandbox's, so the endpoints of one sandbox that give it
        must give the same value.
      - A value is a number, a boolean (V(1) or V(0)) or one line of text; white space between the
        values of a list, such as C(net.ipv4.ip_local_port_range), is one space.
      - Each is read back and set only when it differs, changed in place, and reported as drift by
        M(cnm.fabric.cnm_info) when changed by hand. An interface made again gets its values again.
        A key taken out of the list keeps the value it has until the sandbox is made again.
      - An error on a network whose endpoints have no sandbox of their own (C(host)), and for the
        keys of an interface where they have none (C(null)).
    type: dict
    version_added: 0.2.0
  state:
    description:
      - V(present) makes the endpoint match the options; V(absent) removes it, releases its
        address and published ports, and removes its sandbox if the collection created it and
        no other endpoint uses it.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - cnm.fabric.common
  - cnm.fabric.common.attributes
seealso:
  - module: cnm.fabric.cnm_network
"""

EXAMPLES = r"""
- name: A db sandbox on the pets network
  cnm.fabric.cnm_endpoint:
    name: db
    network: pets
    sandbox: db

- name: The web sandbox, published on host port 8000
  cnm.fabric.cnm_endpoint:
    name: web
    network: pets
    sandbox: web
    aliases: [www]
    publish:
      - host_port: 8000
        container_port: 5000

- name: Join a running container, found by its process id
  cnm.fabric.cnm_endpoint:
    name: cache
    network: pets
    sandbox_path: /proc/4242/ns/net
    ipv4_address: 172.17.0.50
    ifname: eth1
    default_route: false

- name: A dual-stack endpoint with its own resolvers and an extra host name
  cnm.fabric.cnm_endpoint:
    name: api
    network: web
    sandbox: api
    ipv6_address: "fd00:30:2::10"
    dns: [192.0.2.53, "2001:db8::53"]
    dns_search: [corp.example]
    dns_options: ["ndots:2"]
    extra_hosts:
      registry.corp.example: 192.0.2.10
    sysctls:
      net.ipv4.conf.IFNAME.rp_filter: 2
      net.ipv4.tcp_keepalive_time: 600
    routes:
      - dst: 10.200.0.0/16
        gateway: 172.30.2.254
    bandwidth:
      ingress_rate: 100mbit
      egress_rate: 20mbit
      egress_burst: 256kb
    publish:
      - host_port: 8000-8010
        container_port: 8000-8010

- name: Many sandboxes in one call; endpoints of the network that are not listed are removed
  cnm.fabric.cnm_endpoint:
    network: pets
    endpoints:
      - name: job1
      - name: job2
        sandbox: jobs-shared
      - name: job3
        sandbox: jobs-shared
        ipv4_address: 172.17.0.200
    exclusive: true

- name: A second network of the api sandbox, as the default route's backup
  cnm.fabric.cnm_endpoint:
    name: api
    network: backup
    sandbox: api
    default_route_metric: 200

- name: Leave the network
  cnm.fabric.cnm_endpoint:
    name: web
    network: pets
    state: absent
"""

RETURN = r"""
endpoint:
  description:
    - The endpoint as recorded; empty after O(state=absent).
    - The fields every endpoint has, then the parts of its network's driver, each under its own key.
  returned: always
  type: dict
  contains:
    veth:
      description: The endpoint's veth pair as the host sees it.
      returned: on a bridge or overlay network
      type: dict
      contains:
        host_interface:
          description: The pair's end on the host, a port of the network's bridge.
          type: str
    cni_attachment:
      description:
        - The endpoint's CNI attachment, on a C(cni) network. Its addresses and MAC are those the
          plugins returned for the endpoint's interface, in its C(ipv4_address),
          C(ipv6_address) and C(mac_address).
      returned: on a cni network
      type: dict
      contains:
        container_id:
          description: Its C(CNI_CONTAINERID), stable for the endpoint (64 hex digits).
          type: str
        config:
          description: The configuration list its last ADD ran (null until an ADD finished), which its DEL is given.
          type: dict
        result:
          description: What that ADD returned (interfaces, IPs, routes, DNS), the C(prevResult) of its CHECK and DEL.
          type: dict
    cni_chain:
      description: O(cni_chain), with its defaults (null without a chain).
      type: dict
    cni_chain_attachment:
      description:
        - The chain's attachment, as RV(endpoint.cni_attachment) is a C(cni) network endpoint's, and
          C(prev), the C(prevResult) its ADD was given (null without a chain).
      type: dict
    cni_ipam_attachment:
      description:
        - The attachment of its network's IPAM plugin (M(cnm.fabric.cnm_network)'s C(cni_ipam)), as
          RV(endpoint.cni_attachment) is a C(cni) network endpoint's. Its addresses are the endpoint's
          C(ipv4_address) and C(ipv6_address).
      returned: on a network with C(cni_ipam)
      type: dict
  sample:
    name: web
    network: pets
    sandbox: web
    ifname: eth0
    ipv4_address: 172.17.0.3
    ipv6_address: null
    mac_address: "02:42:ac:11:00:03"
    default_route: true
    aliases: [www]
    publish: [{host_port: 8000, container_port: 5000, protocol: tcp, host_ip: null}]
    veth: {host_interface: cnmv3f1c2d9a0b7}
    dns: null
    dns_search: null
    dns_options: null
    extra_hosts: null
    sysctls: {net.ipv4.conf.IFNAME.rp_filter: "2"}
    routes: [{dst: 10.200.0.0/16, gateway: 172.17.0.254, metric: 0, table: 254}]
    default_route_metric: 100
    bandwidth: {ingress_rate: 100000000, ingress_burst: 125000, egress_rate: 20000000, egress_burst: 262144}
    hosts_file: /etc/netns/web/hosts

endpoints:
  description: With O(endpoints), the listed endpoints as recorded, in the order given (empty dicts after O(state=absent)).
  returned: when O(endpoints) is given
  type: list
  elements: dict
changes:
  description: What was changed, or would be in check mode, in order.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cnm.fabric.plugins.module_utils.calls import ENDPOINT as CALL
from ansible_collections.cnm.fabric.plugins.module_utils.common import run_module


def main():
    module = AnsibleModule(argument_spec=CALL.spec, supports_check_mode=True, **CALL.constraints)
    run_module(module, CALL.run)


if __name__ == "__main__":
    main()
