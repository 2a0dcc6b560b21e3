#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cnm_network
short_description: Manage container networks (bridge, overlay, macvlan, ipvlan, dummy, cni, host, null) on a Linux host
version_added: 0.1.0
description:
  - Creates, updates and removes a network of Docker's Container Network Model without a
    Docker engine.
  - A C(bridge) network is a Linux bridge with the network's gateway address, NAT to the
    outside (masquerade), isolation from other networks and published ports, all in the
    nftables tables C(inet cnm) and C(bridge cnm), which the collection owns and rewrites
    atomically. No other table is touched.
  - The subnet comes from the C(local) address space (Docker's 31 default pools) when not
    given, never overlapping another network or a route of the host.
  - Changing O(mtu), O(internal), O(bridge.icc), O(bridge.masquerade),
    O(bridge.host_binding_ip), O(bridge.hairpin) or O(gateway) updates the network and its
    endpoints in place; nothing is deleted and recreated. The subnet and the bridge's name
    can be changed only while the network has no endpoints.
  - An C(overlay) network spans hosts. On each host it is a bridge, as above, holding a VXLAN
    device with learning off that answers ARP from its own table (proxy). Frames reach other
    hosts only through the static entries M(cnm.fabric.cnm_overlay_peer) programs, so no
    multicast is needed. The subnet is required and must be the same on every host, so allocate
    it once with M(cnm.fabric.cnm_ipam_pool) (O(cnm.fabric.cnm_ipam_pool#module:space=fleet)),
    as the C(cnm.fabric.overlay_network) role does.
  - "External access of an overlay network: every host's bridge carries the network's gateway
    address, so a sandbox's default route leads to its own host, which masquerades the traffic
    out of its own interfaces (a distributed gateway, in place of Docker's separate
    C(docker_gwbridge)). ARP requests never cross the overlay, so hosts never see each other's
    gateway. The host itself reaches only its own sandboxes by their overlay addresses: a
    remote sandbox answers to its own host."
  - "A C(macvlan) or C(ipvlan) network puts its endpoints on a parent device's own wire: a host
    NIC, or an 802.1Q sub-interface C(IFACE.VID) that the network makes when it does not exist
    (and removes with the last network that uses it; a parent it did not make is never changed
    or removed). Several networks may share a parent, except in macvlan's C(passthru) mode. The
    gateway is the external router's address, each sandbox's default route; it is never put on
    the host. There is no NAT, so O(cnm.fabric.cnm_endpoint#module:publish) is refused. With no
    parent the network is internal, on a bridge with no ports that the network makes (named as
    O(bridge.name) defaults), so its endpoints reach only each other."
  - A host cannot reach its own macvlan endpoints through their parent (the kernel does not loop
    the parent's traffic back to its children); O(macvlan.host_access) gives it a way.
  - "A C(dummy) network gives each endpoint a dummy link in its sandbox holding an address of the
    network's pool (as the CNI C(dummy) plugin does): an address of the sandbox's own that reaches
    nothing by itself, for a service address that a routing daemon in the sandbox announces, or that
    a route through another of its networks leads to. The network has no kernel object on the host,
    no gateway (O(gateway) is refused) and no firewall rules; its endpoints take no default route and
    publish no port. It needs the kernel's C(dummy) module, which is checked before anything is made."
  - "A C(cni) network is a CNI network configuration list (O(cni)): its endpoints are made by CNI
    plugins, run as a container runtime runs them, with the collection's records, check mode, drift
    and crash safety around them. Each endpoint is an attachment of its own (a stable container ID,
    its sandbox, its interface): ADD when it joins, DEL when it leaves (also when its sandbox goes
    with it, and after a run killed midway), and CHECK on every run, a failed CHECK reported as
    drift by M(cnm.fabric.cnm_info) and repaired (DEL, then ADD) by the next run. The plugins' IPAM
    gives the endpoints their addresses, which are recorded from the ADD's result, for the hosts
    files. With O(cni.ipam=cnm) the addresses come from the network's pools instead (as on a
    C(bridge) network), handed to the first plugin as the C(static) IPAM plugin's configuration.
    What the plugins make on the host (the C(bridge) plugin's bridge, C(host-local)'s leases)
    is theirs: the network has no firewall rules of the collection's. The
    collection's guide on plug-in drivers has examples and compares it with Docker's plug-ins."
  - C(host) and C(null) networks are records only; endpoints on them use the host's stack
    or an isolated sandbox with only its loopback.
author:
  - cnm.fabric maintainers (@cnm-fabric)
options:
  name:
    description:
      - Name of the network (1 to 63 letters, digits, C(_), C(.) or C(-)).
    type: str
    required: true
  driver:
    description:
      - The CNM driver that implements the network.
    type: str
    choices: [bridge, overlay, macvlan, ipvlan, host, "null", dummy, cni]
    default: bridge
  state:
    description:
      - V(present) makes the network match the options; V(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
  subnet:
    description:
      - The network's subnets in CIDR form, one per IP version, for example V(172.30.0.0/24), or
        V([172.30.0.0/24, "fd00:30::/64"]) with O(ipv6=true). A single subnet may be given as a
        string.
      - When the IPv4 subnet is omitted, the next free subnet of O(address_pools) is taken (by
        default Docker's 31 local pools), never overlapping another network or a route of the
        host, and kept on later runs. So is the IPv6 one of a dual-stack network (see O(ipv6)).
      - Required for O(driver=overlay). For O(driver=cni), only with O(cni.ipam=cnm).
    type: list
    elements: str
  gateway:
    description:
      - The endpoints' default gateways, one per IP version. Each defaults to the first usable
        address of its subnet, and requires that subnet to be given.
      - On a C(bridge) or C(overlay) network, the bridge's addresses. On a C(macvlan) or C(ipvlan)
        network, the addresses of the router on the parent's wire, which the host never takes.
    type: list
    elements: str
  ip_range:
    description:
      - Sub-ranges of the subnets (one per IP version) from which endpoint addresses are
        allocated when not given.
    type: list
    elements: str
  aux_addresses:
    description:
      - Addresses of the subnets that are never handed out, by name (for example a router);
        each goes to the subnet of its IP version.
    type: dict
  ipv6:
    description:
      - Makes the network dual-stack, as Docker's C(--ipv6) does. It gets an IPv6 subnet (given
        in O(subnet), or a /64 of the host's default ULA pool) beside its IPv4 one; each endpoint
        gets an IPv6 address beside its IPv4 one, and an IPv6 default route with its IPv4 one.
      - "The default ULA pool is the /48 of V(fd00::/8) whose 40-bit global ID is a digest of the
        host's C(/etc/machine-id), as RFC 4193 suggests, split into /64s: two hosts do not pick
        the same subnets. O(address_pools) with an IPv6 base overrides it."
      - On a bridge network the bridge carries both gateways, IPv6 forwarding is turned on
        (C(net.ipv6.conf.all.forwarding), which makes the host stop taking router advertisements
        on interfaces whose C(accept_ra) is not V(2)), and the firewall covers both families.
        Without IPv6, the network's links have IPv6 turned off (C(disable_ipv6)).
      - Addresses are added without duplicate address detection, so they are usable as soon as
        the module returns.
      - Supported by the C(bridge), C(overlay), C(macvlan) and C(ipvlan) drivers, and C(cni) with
        O(cni.ipam=cnm). It can be turned on or off only while the network has no endpoints.
      - With O(ipv4=false), the network is IPv6-only.
    type: bool
    default: false
    version_added: 0.2.0
  ipv4:
    description:
      - V(false) makes the network IPv6-only, as Docker's C(--ipv4=false) does; it needs
        O(ipv6=true). No IPv4 subnet is taken from any pool, and the network's links, sandboxes,
        hosts files and firewall rules have no IPv4 address, and every IPv4 value of O(subnet),
        O(gateway), O(ip_range), O(aux_addresses) and O(address_pools) is refused. NAT66,
        published ports (on the host's IPv6 addresses), isolation and hosts files work as on a
        dual-stack network; the host's IPv4 forwarding is left as it is.
      - "An endpoint's MAC address derives from its IPv6 address: C(06) followed by the address's
        last 40 bits (C(fd00:81::2) gives C(06:00:00:00:00:02)). Every address of the subnet's
        first 2^40 gives its own MAC, so two endpoints of the network, on this host or, on an
        overlay, any host of the fleet, never share one; an endpoint whose address lies further
        into the subnet is refused unless it gives its O(cnm.fabric.cnm_endpoint#module:mac_address).
        The bridge's MAC derives from the IPv6 gateway (or O(overlay.host_address)) the same way."
      - On an C(overlay) network the hosts know each endpoint by its IPv6 address (its
        O(cnm.fabric.cnm_overlay_peer#module:peers[].endpoints[].ip)), which each endpoint gives
        (O(cnm.fabric.cnm_endpoint#module:ipv6_address), from the fleet pool); the VXLAN
        underlay may stay IPv4. O(overlay.host_address) is an IPv6 address of the subnet.
      - "Not for: services (M(cnm.fabric.cnm_service): their VIPs are IPv4 addresses) and
        O(macvlan.host_access) (the shim's address is IPv4)."
      - Supported by the C(bridge), C(overlay), C(macvlan) and C(ipvlan) drivers, and C(cni) with
        O(cni.ipam=cnm). It can be turned on or off only while the network has no endpoints.
    type: bool
    default: true
    version_added: 0.2.0
  address_pools:
    description:
      - The pools an automatic subnet is taken from, in order, each split into subnets of
        C(size); those of each IP version replace that version's defaults (see O(subnet) and
        O(ipv6)). Used only when the network gets its subnet.
    type: list
    elements: dict
    version_added: 0.2.0
    suboptions:
      base:
        description: The pool, in CIDR form.
        type: str
        required: true
      size:
        description: The prefix length of the subnets taken from it (at most 30 for IPv4, 126 for IPv6).
        type: int
        required: true
  labels:
    description:
      - Metadata of the network (Docker's C(--label)), as string values by name. Recorded,
        returned by M(cnm.fabric.cnm_info), and changed in place.
    type: dict
    default: {}
    version_added: 0.2.0
  vrf:
    description:
      - The name of a VRF (an L3 master device) that the network's host devices are enslaved to,
        so that the host routes its traffic in the VRF's own table, apart from the main table
        and from other VRFs. Networks in different VRFs may have the same subnet (their pools
        overlap only those of their own VRF); networks of one VRF share it.
      - A VRF device of that name that exists is used as it is (its table is read from it), and
        is never changed or deleted. One that does not is made, up, with a routing table of its
        own (the lowest from 1000 that no VRF of the host uses), made again when it is gone, and
        deleted with the last network of the O(state_dir) in it.
      - The devices enslaved are a C(bridge) network's bridge, and a C(macvlan) or C(ipvlan)
        network's VLAN sub-interface (when the collection made it; a found parent is left as
        its owner has it) and host-access shim. Not for C(overlay) (its bridge carries the
        fleet's VXLAN device and gateway) nor an adopted bridge (O(bridge.adopt)), whose owner
        puts it in a VRF if they wish.
      - The way out is the VRF's business, so give its table a default route through an interface
        in the VRF (C(ip route add default via ADDRESS vrf NAME)). Published ports are DNATed
        to the endpoints' addresses and routed in the table of the interface a connection comes
        in on, so they answer connections that come in through the VRF's own interfaces.
      - Changed in place (the devices move to the new VRF); removing the option takes them out.
      - The kernel needs its C(vrf) module (Debian's cloud kernel has it).
    type: str
    version_added: 0.2.0
  mtu:
    description:
      - MTU of the bridge and of every endpoint on it.
      - Defaults to V(1500), or for O(driver=overlay) to the underlay interface's MTU less the
        50 bytes of VXLAN's headers (V(1450) on a 1500 link), and 37 more with
        O(overlay.encrypted=true) (V(1413)). A larger overlay MTU is an error.
      - For O(driver=macvlan) and O(driver=ipvlan), defaults to the parent's MTU; a larger one
        is an error.
    type: int
  internal:
    description:
      - When true, no traffic is forwarded into or out of the network, and nothing is masqueraded
        or published; endpoints reach each other and the gateway only.
      - A C(macvlan) or C(ipvlan) network is internal when it has no parent, and then has no
        gateway; O(internal=true) with a parent is an error.
    type: bool
    default: false
  force:
    description:
      - With O(state=absent), remove the network even if it has endpoints, removing them first.
    type: bool
    default: false
  bridge:
    description:
      - Options of the bridge of a C(bridge) or C(overlay) network.
    type: dict
    suboptions:
      name:
        description:
          - Name of the bridge device. Defaults to C(cnm-) followed by the network's name,
            shortened with a digest to fit the kernel's 15 bytes.
          - 1 to 15 ASCII letters, digits, V(_), V(.) or V(-), starting with a letter, digit or V(_);
            V(all), V(default), V(lo) and V(bonding_masters) are reserved by the kernel.
          - A bridge of that name that this O(state_dir) did not make is refused unless
            O(bridge.adopt=true).
        type: str
      gateway_mode:
        description:
          - How the outside reaches the network over IPv4, as Docker's bridge driver's gateway modes.
          - V(nat) - traffic to the outside is masqueraded (O(bridge.masquerade)); from outside the
            host, only published ports answer, through the host's addresses. A packet that another
            interface of the host (another network's bridge, an uplink, a neighbour that routes the
            subnet through the host) sends straight to an endpoint's address is dropped, unless it
            comes from O(bridge.trusted_host_interfaces).
          - V(nat-unprotected) - as V(nat), but every port of every endpoint can be reached straight
            through the host by whoever routes the subnet to it (the behaviour before 0.2.0).
          - V(routed) - no NAT; the subnet is routed, and its endpoints keep their addresses end to
            end. Published ports are not mapped to host ports; their container ports are opened to
            direct access, and nothing else is.
          - V(isolated) - the bridge has no address of this family, so no gateway, no default route,
            no access to or from the host or the outside; only the network's endpoints reach each
            other.
          - An overlay network takes V(nat) or V(nat-unprotected) only. An internal network
            (O(internal)) is isolated whatever its mode.
          - A network from before 0.2.0 is V(nat) on its next run (a breaking change; direct access
            from outside stops).
        type: str
        choices: [nat, nat-unprotected, routed, isolated]
        default: nat
        version_added: 0.2.0
      gateway_mode_ipv6:
        description:
          - As O(bridge.gateway_mode), for the IPv6 side of a dual-stack network.
        type: str
        choices: [nat, nat-unprotected, routed, isolated]
        default: nat
        version_added: 0.2.0
      trusted_host_interfaces:
        description:
          - Host interfaces whose packets may reach the endpoints' addresses directly, any port, in
            gateway modes V(nat) and V(routed) (Docker's C(trusted_host_interfaces)).
        type: list
        elements: str
        default: []
        version_added: 0.2.0
      adopt:
        description:
          - Use an existing bridge named O(bridge.name) that the collection did not make (a user's,
            or one made by other software), as Docker does with C(com.docker.network.bridge.name)
            of a bridge that exists.
          - An adopted bridge gets the network's gateway address and is brought up; without O(mtu)
            it keeps its own MTU. It is never deleted, and its other addresses are never removed;
            O(state=absent) takes off only the addresses the network added.
          - Has no effect on a bridge the network already uses.
        type: bool
        default: false
        version_added: 0.2.0
      icc:
        description:
          - Whether endpoints of this network may reach each other (inter-container communication).
        type: bool
        default: true
      masquerade:
        description:
          - Whether traffic from the network to the outside is masqueraded behind the host.
        type: bool
        default: true
      host_binding_ip:
        description:
          - Default host address of published ports. V(0.0.0.0) means every address of the host,
            of both IP versions for the endpoints that have an IPv6 address; V(::) means every
            IPv6 address only. An IPv6 address requires O(ipv6=true).
        type: str
        default: 0.0.0.0
      masquerade_ipv6:
        description:
          - Whether IPv6 traffic from a dual-stack network to the outside is masqueraded behind the
            host (NAT66), as current Docker does by default.
          - NAT66 lets a network with a ULA subnet reach the IPv6 internet through the host's
            address. Turn it off when the subnet is routed to this host (a global prefix); the
            endpoints then keep their own addresses end to end; in gateway mode V(nat) only their
            published ports answer from outside, through the host's addresses, and in V(routed)
            (O(bridge.gateway_mode_ipv6)) their published container ports answer directly.
        type: bool
        default: true
        version_added: 0.2.0
      hairpin:
        description:
          - Turns on hairpin mode on the bridge ports, so an endpoint can reach its own published
            ports through the host.
        type: bool
        default: false
  overlay:
    description:
      - Options of the C(overlay) driver.
    type: dict
    suboptions:
      vni:
        description:
          - The VXLAN network identifier, 1 to 16777215, the same on every host. Two networks of
            one host never share a VNI.
          - Required with O(driver=overlay) and O(state=present).
        type: int
      port:
        description:
          - UDP port of the VXLAN traffic between hosts.
        type: int
        default: 4789
      local_ip:
        description:
          - This host's address on the underlay, which other hosts name as its VTEP.
          - Defaults to the first address of O(overlay.underlay_interface), or else of the
            interface of the host's default route.
        type: str
      underlay_interface:
        description:
          - The interface VXLAN traffic leaves by. Defaults to the interface that holds
            O(overlay.local_ip), or else to the interface of the default route.
        type: str
      encrypted:
        description:
          - Carries the network's VXLAN traffic between hosts in IPsec ESP (transport mode, AES-GCM
            with a 256-bit key), as Docker's C(--opt encrypted) does. The same on every host.
          - The network's VXLAN packets that arrive without IPsec are dropped (nftables, table
            C(inet cnm)), and those this host sends are marked for IPsec policies that match only
            this network's traffic between two hosts. So the network fails closed; a host without
            the keys gets no cleartext fallback.
          - M(cnm.fabric.cnm_overlay_peer) programs the security associations and policies of each
            peer from O(cnm.fabric.cnm_overlay_peer#module:encryption_keys); until then, no traffic
            crosses.
          - ESP takes up to 37 bytes of each packet, so the default MTU is that much smaller.
          - The kernel needs ESP and AES-GCM (modules C(esp4), C(aes), C(gcm)); without them this
            is an error naming C(esp4), and nothing is changed.
        type: bool
        default: false
        version_added: 0.2.0
      host_address:
        description:
          - This host's own address in the network's subnet, unique in the fleet (the
            C(cnm.fabric.overlay_network) role allocates one from the fleet pool, owner
            C(host.INVENTORY_HOSTNAME), for a network with published services).
          - The bridge carries it (as a /32) beside the gateway, and takes the MAC address derived
            from it (C(02:42) and its four octets), which the other hosts learn from
            M(cnm.fabric.cnm_overlay_peer)'s O(cnm.fabric.cnm_overlay_peer#module:peers[].host_address).
          - The routing mesh needs it. A connection to a published port of a service
            (O(cnm.fabric.cnm_service#module:ports[].published)) that goes to a backend on another
            host leaves with this address as its source, so the backend's replies come back here.
        type: str
        version_added: 0.2.0
  macvlan:
    description:
      - Options of the C(macvlan) driver.
    type: dict
    version_added: 0.2.0
    suboptions:
      parent:
        description:
          - The host device the endpoints' macvlan links hang from. V(eth1) uses the device as
            it is; V(eth1.10) uses that 802.1Q sub-interface, and makes it (VID 10 on V(eth1),
            1 to 4094) when it does not exist.
          - Without a parent the network is internal (see O(internal)).
        type: str
      mode:
        description:
          - How the endpoints of one parent reach each other. V(bridge) directly; V(vepa) only
            through the switch the parent is wired to (which must send frames back, a reflective
            relay); V(private) not at all; V(passthru) gives the parent to the one endpoint of
            the one network on it.
        type: str
        choices: [bridge, vepa, private, passthru]
        default: bridge
      host_access:
        description:
          - Gives the host a macvlan of the parent of its own (a shim, C(cnms) and a digest),
            in bridge mode, with an address from the network's pool and a route to the
            network's O(ip_range) (or its O(subnet)), so the host reaches its own endpoints.
          - Requires O(macvlan.mode=bridge).
        type: bool
        default: false
  ipvlan:
    description:
      - Options of the C(ipvlan) driver. Endpoints share the parent's MAC address, so
        O(cnm.fabric.cnm_endpoint#module:mac_address) is refused.
    type: dict
    version_added: 0.2.0
    suboptions:
      parent:
        description:
          - As O(macvlan.parent). A device carries macvlan or ipvlan links, not both.
        type: str
      mode:
        description:
          - V(l2) switches frames among the endpoints and the parent's wire, and the endpoints
            route via O(gateway); V(l3) and V(l3s) route in the host (no broadcast or multicast
            reaches the endpoints, whose default route is on-link through the parent);
            V(l3s) also passes the traffic through the host's netfilter hooks.
        type: str
        choices: [l2, l3, l3s]
        default: l2
  cni_ipam:
    description:
      - A CNI IPAM plugin as the IPAM of a C(macvlan) network, in place of the collection's pools, such as
        the reference C(dhcp) plugin (addresses from the DHCP server on the parent's wire, through
        the plugin's daemon, which the role C(cnm.fabric.cni_dhcp) runs), C(host-local), C(static),
        or a third party's.
      - The driver makes each endpoint's link; the plugin is then run as a CNI main plugin runs it,
        for the endpoint's interface in its sandbox, with the network's configuration (its
        C(ipam) object O(cni_ipam.plugin)). The addresses it returns are set on the link, with its
        routes. Its default routes are set when the endpoint's
        O(cnm.fabric.cnm_endpoint#module:default_route) says so (the first endpoint of a sandbox by
        default), at O(cnm.fabric.cnm_endpoint#module:default_route_metric).
      - Each endpoint's attachment is recorded (C(cni_ipam_attachment)) and its addresses become the
        endpoint's (for the hosts files and M(cnm.fabric.cnm_info)). C(DEL) gives the lease back
        when the endpoint leaves. The attachment is made again (C(DEL), then C(ADD)) when its C(ADD)
        did not finish, this option or the endpoint's interface changed, its sandbox or link was made
        again (after a reboot), or the plugin's C(CHECK) fails.
      - The network takes no pool, so O(subnet), O(gateway), O(ip_range), O(aux_addresses),
        O(ipv6), O(address_pools) and O(macvlan.host_access) are refused, and so are the endpoints'
        C(ipv4_address), C(ipv6_address) and C(routes).
      - Given or taken off only while the network has no endpoints. A changed O(cni_ipam) reaches each
        endpoint at its next M(cnm.fabric.cnm_endpoint) run, which makes its attachment again.
    type: dict
    version_added: 0.2.0
    suboptions:
      plugin:
        description:
          - The IPAM plugin's configuration, the C(ipam) object of a CNI network configuration, as
            the plugin documents it (C(type) and its own keys, such as C(daemonSocketPath) for
            C(dhcp), or C(ranges) and C(dataDir) for C(host-local)).
          - Its C(type) names an executable that must be on O(cni_ipam.path); when the option is new
            or changed it is asked which CNI versions it supports.
        type: dict
        required: true
      cni_version:
        description:
          - The CNI version the plugin is run with; at V(1.1.0), with C(STATUS) before each C(ADD) and
            C(GC) from M(cnm.fabric.cnm_prune), as for O(cni.cni_version).
        type: str
        choices: ["1.0.0", "1.1.0", "0.4.0"]
        default: "1.0.0"
      path:
        description:
          - As O(cni.path).
        type: list
        elements: path
  cni:
    description:
      - Options of the C(cni) driver. Required with O(driver=cni) and O(state=present).
      - Changing them with endpoints on the network makes each endpoint again with the new
        configuration (DEL with what its ADD ran, then ADD).
    type: dict
    version_added: 0.2.0
    suboptions:
      plugins:
        description:
          - The plugins of the configuration list, in order, each the JSON object of its own
            configuration as the plugin documents it (C(type) and its own keys, such as C(bridge),
            C(isGateway) and C(ipam) for the reference C(bridge) plugin). The list's C(name) (the
            network's) and C(cniVersion) (O(cni.cni_version)) are added to each, and C(prevResult)
            as the protocol says; none of the three may be given.
          - Each C(type), and each C(ipam.type), names an executable that must be on O(cni.path);
            when the configuration is new or changed, each is asked which CNI versions it supports.
        type: list
        elements: dict
      cni_version:
        description:
          - The CNI version of the configuration list (the versions with C(CHECK)).
          - At V(1.1.0), each plugin is asked with C(STATUS) before each C(ADD) whether it can take
            one (the endpoint fails, naming the plugin, when one cannot), and M(cnm.fabric.cnm_prune)
            sends C(GC) with the network's endpoints as the valid attachments. Debian 12's reference
            plugins (1.1.1) support up to V(1.0.0).
        type: str
        choices: ["1.0.0", "1.1.0", "0.4.0"]
        default: "1.0.0"
      path:
        description:
          - The directories the plugins are looked for in, in order (C(CNI_PATH)). Absolute, with
            no colon.
          - Defaults to V(/usr/lib/cni) (Debian's C(containernetworking-plugins)) and V(/opt/cni/bin).
        type: list
        elements: path
      ipam:
        description:
          - Whose IPAM gives the endpoints their addresses.
          - V(plugin) - the IPAM plugin the plugins' configuration names (C(host-local), C(dhcp),
            C(static), another); the addresses are recorded from the ADD's result.
          - V(cnm) - the collection's, as on a C(bridge) network - O(subnet), O(gateway),
            O(ip_range), O(ipv6), O(address_pools) and the endpoints' C(ipv4_address),
            C(ipv6_address) and C(default_route) - handed to the first plugin, which must name
            no C(ipam) of its own, as the C(static) IPAM plugin's configuration (the endpoint's
            addresses, each with its network's gateway, and default routes through them). The
            C(static) plugin must be on O(cni.path). Pools from M(cnm.fabric.cnm_ipam_pool), such as
            a fleet's in etcd, give an explicit O(subnet) and explicit addresses, as for an overlay.
          - Changed only while the network has no endpoints.
        type: str
        choices: [plugin, cnm]
        default: plugin
extends_documentation_fragment:
  - cnm.fabric.common
  - cnm.fabric.common.attributes
seealso:
  - module: cnm.fabric.cnm_endpoint
  - module: cnm.fabric.cnm_ipam_pool
  - module: cnm.fabric.cnm_overlay_peer
  - module: cnm.fabric.cnm_info
"""

EXAMPLES = r"""
- name: A bridge network with an automatic subnet
  cnm.fabric.cnm_network:
    name: pets

- name: A fixed subnet, a jumbo MTU, no traffic between its endpoints
  cnm.fabric.cnm_network:
    name: backend
    subnet: 172.30.0.0/24
    ip_range: 172.30.0.128/25
    mtu: 9000
    bridge:
      name: br-backend
      icc: false

- name: A dual-stack network, its IPv6 subnet taken from the host's ULA pool, with labels
  cnm.fabric.cnm_network:
    name: web
    subnet: 172.30.1.0/24
    ipv6: true
    labels:
      team: web
      env: staging

- name: A dual-stack network with both subnets given
  cnm.fabric.cnm_network:
    name: api
    subnet: [172.30.2.0/24, "fd00:30:2::/64"]
    ipv6: true

- name: A tenant's network in a VRF of its own; another tenant may have the same subnet in another
  cnm.fabric.cnm_network:
    name: tenant1
    subnet: 10.60.0.0/24
    vrf: tenant1

- name: An IPv6-only network (Docker's --ipv4=false)
  cnm.fabric.cnm_network:
    name: six
    subnet: "fd00:81::/64"
    ipv4: false
    ipv6: true

- name: An internal network (no way in or out)
  cnm.fabric.cnm_network:
    name: vault
    subnet: 172.31.0.0/24
    internal: true

- name: One overlay network of a fleet, on this host (the subnet comes from the fleet pool)
  cnm.fabric.cnm_network:
    name: fabric
    driver: overlay
    subnet: 10.0.1.0/24
    overlay:
      vni: 4097
      underlay_interface: eth1

- name: VLAN 10 of the trunk on eth1, its router at 192.168.10.1 (eth1.10 is made if missing)
  cnm.fabric.cnm_network:
    name: vlan10
    driver: macvlan
    subnet: 192.168.10.0/24
    gateway: 192.168.10.1
    ip_range: 192.168.10.128/25
    macvlan:
      parent: eth1.10
      host_access: true

- name: An ipvlan network in L3 mode (one MAC address on the wire)
  cnm.fabric.cnm_network:
    name: flat
    driver: ipvlan
    subnet: 10.20.0.0/24
    ipvlan:
      parent: eth1
      mode: l3

- name: A network of the CNI reference plugins (bridge, with host-local addresses)
  cnm.fabric.cnm_network:
    name: plugged
    driver: cni
    cni:
      plugins:
        - type: bridge
          bridge: cni-plugged
          isGateway: true
          ipam:
            type: host-local
            ranges: [[{subnet: 10.88.0.0/24}]]
            routes: [{dst: 0.0.0.0/0}]
        - type: tuning
          sysctl: {net.ipv4.conf.IFNAME.arp_notify: "1"}

- name: Remove a network and every endpoint on it
  cnm.fabric.cnm_network:
    name: pets
    state: absent
    force: true
"""

RETURN = r"""
network:
  description:
    - The network as recorded; empty after O(state=absent).
    - The fields every network has, then the parts of its driver, each under its own key, as the
      options are given (O(bridge), O(overlay), O(macvlan), O(ipvlan), O(cni)). A network returns its own
      driver's parts only.
  returned: always
  type: dict
  contains:
    name:
      description: The network's name.
      type: str
    id:
      description:
        - 64 hexadecimal digits, as Docker's network IDs. An overlay network's is the same on every
          host that declares it alike (same name and VNI); a network of another driver has one of
          its own on each host and O(state_dir), kept once made.
      type: str
    scope:
      description: V(fleet) for an overlay network, V(local) for the others.
      type: str
    driver:
      description: The network's driver.
      type: str
    ipv4:
      description: Whether the network has IPv4 (false on an IPv6-only network and for a driver without addresses).
      type: bool
      version_added: 0.2.0
    subnet:
      description: Its IPv4 subnet (null on an IPv6-only network and for a driver without addresses).
      type: str
    gateway:
      description: Its IPv4 gateway (null on an internal macvlan or ipvlan network and in gateway mode V(isolated)).
      type: str
    ip_range:
      description: The part of the subnet endpoints take their addresses from (null, the whole subnet).
      type: str
    ipv6:
      description: Whether the network has IPv6 (dual-stack, or IPv6-only).
      type: bool
    ipv6_subnet:
      description: Its IPv6 subnet (null without IPv6).
      type: str
    ipv6_gateway:
      description: Its IPv6 gateway (null without IPv6).
      type: str
    ipv6_ip_range:
      description: The IPv6 range endpoints take their addresses from (null, the whole subnet).
      type: str
    mtu:
      description: The MTU of its devices and endpoints.
      type: int
    internal:
      description: Whether it has no way out of the host.
      type: bool
    vrf:
      description: The VRF its host devices are in (null without O(vrf)).
      type: dict
      version_added: 0.2.0
      contains:
        name:
          description: The VRF device.
          type: str
        table:
          description: Its routing table.
          type: int
        created:
          description: Whether the collection made it (and so deletes it with the last network in it).
          type: bool
    labels:
      description: The labels, as given.
      type: dict
    bridge:
      description: The bridge of a bridge or overlay network.
      returned: when O(driver) is V(bridge) or V(overlay)
      type: dict
      contains:
        interface:
          description: The bridge's name.
          type: str
        icc:
          description: Whether its endpoints may reach one another.
          type: bool
        masquerade:
          description: Whether IPv4 traffic leaving the host is masqueraded.
          type: bool
        masquerade_ipv6:
          description: Whether IPv6 traffic leaving the host is masqueraded (NAT66).
          type: bool
        host_binding_ip:
          description: The host address published ports listen on when they name none.
          type: str
        hairpin:
          description: Whether a frame may go back out of the port it came in by.
          type: bool
        adopted:
          description: Whether the bridge was adopted (O(bridge.adopt)), and so is never deleted.
          type: bool
        gateway_mode:
          description: The IPv4 gateway mode, as given or defaulted.
          type: str
        gateway_mode_ipv6:
          description: The IPv6 gateway mode, as given or defaulted.
          type: str
        trusted_host_interfaces:
          description: Host interfaces whose packets may reach the endpoints directly.
          type: list
          elements: str
    overlay:
      description: The VXLAN side of an overlay network.
      returned: when O(driver=overlay)
      type: dict
      contains:
        vni:
          description: The VXLAN network identifier.
          type: int
        port:
          description: The UDP port of VXLAN.
          type: int
        local_ip:
          description: This host's VTEP, the address VXLAN is sent from.
          type: str
        underlay_interface:
          description: The host interface that holds RV(network.overlay.local_ip).
          type: str
        vxlan_interface:
          description: The VXLAN device, a port of the network's bridge.
          type: str
        encrypted:
          description: Whether VXLAN travels in IPsec ESP between the hosts.
          type: bool
        host_address:
          description: This host's own address on the network (O(overlay.host_address)), or null.
          type: str
        peers:
          description: The remote endpoints by VTEP, as cnm.fabric.cnm_overlay_peer recorded them.
          type: dict
        peer_hosts:
          description: The other hosts' own addresses on the network, by VTEP.
          type: dict
    macvlan:
      description: The parent side of a macvlan network.
      returned: when O(driver=macvlan)
      type: dict
      contains:
        parent:
          description: The host device the endpoints' links hang from.
          type: str
        mode:
          description: The links' mode.
          type: str
        parent_created:
          description: Whether the collection made the parent (an 802.1Q sub-interface, or an internal
            network's bridge), and so removes it with the last network on it.
          type: bool
        host_access:
          description: Whether the host reaches the endpoints through a shim.
          type: bool
        shim:
          description: That shim, a macvlan of the parent on the host (null without host access).
          type: str
        shim_address:
          description: The shim's address, from the network's pool (null without host access).
          type: str
    ipvlan:
      description: The parent side of an ipvlan network, with the fields of RV(network.macvlan).
      returned: when O(driver=ipvlan)
      type: dict
    cni:
      description: A C(cni) network's configuration list, as given.
      returned: when O(driver=cni)
      type: dict
      contains:
        cni_version:
          description: O(cni.cni_version).
          type: str
        plugins:
          description: O(cni.plugins).
          type: list
          elements: dict
        path:
          description: O(cni.path), or its default.
          type: list
          elements: str
        ipam:
          description: O(cni.ipam).
          type: str
    cni_ipam:
      description: O(cni_ipam), for a C(macvlan) network that has it.
      type: dict
      returned: when O(cni_ipam) is given
      contains:
        plugin:
          description: O(cni_ipam.plugin).
          type: dict
        cni_version:
          description: O(cni_ipam.cni_version).
          type: str
        path:
          description: O(cni_ipam.path), or its default.
          type: list
          elements: str
  sample:
    name: pets
    id: 4f0c8e1b9d2a7c3e5f6a8b0d1c2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e
    scope: local
    driver: bridge
    ipv4: true
    subnet: 172.17.0.0/16
    gateway: 172.17.0.1
    ip_range: null
    ipv6: true
    ipv6_subnet: "fd3c:9a0e:51b2::/64"
    ipv6_gateway: "fd3c:9a0e:51b2::1"
    ipv6_ip_range: null
    mtu: 1500
    internal: false
    labels: {team: web}
    vrf: {name: tenant1, table: 1000, created: true}
    bridge:
      interface: cnm-pets
      icc: true
      masquerade: true
      masquerade_ipv6: true
      host_binding_ip: 0.0.0.0
      hairpin: false
      adopted: false
      gateway_mode: nat
      gateway_mode_ipv6: nat
      trusted_host_interfaces: []
changes:
  description: What was changed, or would be in check mode, in order.
  returned: always
  type: list
  elements: str
  sample: ["create bridge cnm-pets (mtu 1500, 02:42:ac:11:00:01)", "add 172.17.0.1/16 to cnm-pets"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cnm.fabric.plugins.module_utils.calls import NETWORK as CALL
from ansible_collections.cnm.fabric.plugins.module_utils.common import run_module


def main():
    module = AnsibleModule(argument_spec=CALL.spec, supports_check_mode=True, **CALL.constraints)
    run_module(module, CALL.run)


if __name__ == "__main__":
    main()
