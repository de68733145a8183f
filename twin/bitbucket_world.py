"""The twin's Bitbucket in its world: which mirror a starting Bitbucket serves (a farm node joins its
farm through Hazelcast's AWS discovery; a new home sets up a mirror that registers with the
primary), each mirror's front door on the emulator, and the admin's DNS for a site without a zone."""

from __future__ import annotations

import json
from typing import Optional

from twin import javaprops

from .durations import seconds
from .network import Endpoint
from .sites import NAMESPACE
from .world import PRIMARY, Home, Instance


class BitbucketWorld:
    """The Twin's part that answers the world for Bitbucket: joins, front doors, the admin's DNS."""

    def _front_door(self, host: str) -> int:
        def resolve():
            instance = self.world.route(host)
            if instance is None:
                return None
            mirror = self.world.mirrors.get(instance.run_at(self.world.now).mirror or "")
            return (mirror, instance.private_ip) if mirror is not None else None

        return _port(self.emu.add_front_door(host, resolve))

    def _admin_dns(self, host: str) -> Optional[tuple[str, str]]:
        """A site with no hosted zone in its stack: the admin points its name at the load balancer
        (or the node) as soon as it exists."""
        # The admin's record outlives the site's entry in the stack: it points where it did until
        # someone removes it (a removed site's teardown still reaches its mirror through it).
        site = self._ever.get(host)
        if site is None:
            return None
        for lb in self.world.load_balancers.values():
            if site.name in lb.dns_name:
                return ("lb", lb.dns_name)
        node0 = next(
            (i for i in self.world.instances.values() if i.name == f"{site.name}-node0" and i.state != "terminated"),
            None,
        )
        if node0 is not None:
            return ("ip", node0.public_ip or node0.private_ip)
        return None

    def _join_mirror(self, instance: Instance, home: Home, version: str, ready_at: float) -> Optional[str]:
        """Which mirror a starting Bitbucket serves: a farm node joins the running nodes that carry its
        farm's tag and group (Hazelcast AWS discovery) if the versions allow; otherwise it is the mirror
        its home belongs to; a home without one sets up a new mirror, which registers with the primary."""
        props = javaprops.parse(home.properties or "")
        now = self.world.now
        name: Optional[str] = None
        # Hazelcast's AWS discovery lists the region's instances with the node's role; a refused call
        # finds no member, and a member it cannot reach on 5701 (both ways) is not joined: the node is
        # alone (twin/network.py).
        discovers = props.get("hazelcast.network.aws") == "true" and self.world.node_calls(
            instance, "ec2:DescribeInstances", "*", {"ec2:Region": instance.region}
        )
        if discovers:
            key, value = props.get("hazelcast.network.aws.tag.key"), props.get("hazelcast.network.aws.tag.value")
            group = props.get("hazelcast.group.name")
            for other in sorted(self.world.instances.values(), key=lambda i: i.name):
                run = other.run_at(now)
                other_home = self.world.home_of(other)
                if (
                    other is not instance
                    and other.state == "running"
                    and other.tags.get(key or "") == value
                    and run.state in ("starting", "running")
                    and run.mirror
                    and other_home is not None
                    and javaprops.parse(other_home.properties or "").get("hazelcast.group.name") == group
                    and self._hazelcast_reaches(instance, other, now)
                ):
                    name = run.mirror
                    break
        if name is None and home.mirror in self.world.mirrors:
            name = home.mirror
        if name is None and not self._reaches_primary(instance, now):
            self.world.note(f"Bitbucket on {instance.name} cannot reach the primary to set up its mirror")
            return None
        if name is None:
            self._mirror_count += 1
            name = f"mirror-{self._mirror_count}"
            mirror = self.emu.add_mirror(
                name,
                base_url=props.get("setup.baseUrl"),
                serve=False,
                nodes=0,
                register_after_s=(ready_at - now) + seconds("bitbucket.register"),
                mirror_type="FARM" if props.get("hazelcast.network.aws") == "true" else "SINGLE",
                join_delay_s=seconds("bitbucket.join"),
            )
            mirror.display_name = props.get("setup.displayName", name)
            self.world.mirrors[name] = mirror
        mirror = self.world.mirrors[name]
        from twin.emulator.state import FarmNode

        node = next((n for n in mirror.farm_nodes if n.address == instance.private_ip), None)
        if node is None:
            node = FarmNode(instance.name, instance.private_ip, version, joined=False)
            mirror.farm_nodes.append(node)
        if not mirror.start_node(node, version, now=ready_at):
            return None
        home.mirror = name
        return name

    def _hazelcast_reaches(self, instance: Instance, other: Instance, now: float) -> bool:
        network, a, b = self.world.network, self.world.endpoint(instance), self.world.endpoint(other)
        what = f"Hazelcast {instance.name} <-> {other.name}"
        return network.flow(a, b, 5701, now, what) and network.flow(b, a, 5701, now, what)

    def _reaches_primary(self, instance: Instance, now: float) -> bool:
        """A new mirror registers with the primary and fetches from it: HTTPS and the primary's SSH
        port out of the node (docs/bitbucket-facts.md: the mirror reaches the primary on 443 and its SSH port)."""
        primary = json.loads(self.engine.config.get(f"{NAMESPACE}:primary", "{}"))
        source, target = self.world.endpoint(instance), Endpoint(PRIMARY, name="primary")
        return all(
            self.world.network.flow(source, target, port, now, f"{instance.name} to the primary")
            for port in (443, int(primary.get("sshPort", 7999)))
        )


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])
