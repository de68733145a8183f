"""What pulumi-aws does in the twin's world for load balancers, target groups, listeners and target
group attachments (terraform-provider-aws's elbv2 resources; twin/native.py)."""

from __future__ import annotations

from .native_base import NativeBase, Outputs
from .world_objects import HealthCheck, LoadBalancer, TargetGroup, WorldError


class NativeLoadBalancing(NativeBase):
    """Creates, updates and deletes the load balancing resources in the world."""

    # --- load balancing -------------------------------------------------------------------------
    def _create_load_balancer(self, name: str, inputs: dict) -> tuple[str, Outputs]:
        rid, outputs = self._synthesised("aws:lb/loadBalancer:LoadBalancer", name, inputs)
        lb = LoadBalancer(
            arn=outputs["arn"],
            dns_name=outputs["dnsName"],
            region=inputs.get("region") or "",
            active_at=self.world.now + 180,
            security_groups=tuple(inputs.get("securityGroups") or ()),
        )
        self.world.load_balancers[lb.arn] = lb
        self.world.wait("elb.create")
        return rid, outputs

    def _delete_load_balancer(self, name: str, id_: str, inputs: dict, outputs: Outputs) -> None:
        self.world.wait("elb.small")
        self.world.load_balancers.pop(outputs.get("arn", ""), None)

    def _create_target_group(self, name: str, inputs: dict) -> tuple[str, Outputs]:
        rid, outputs = self._synthesised("aws:lb/targetGroup:TargetGroup", name, inputs)
        self.world.target_groups[outputs["arn"]] = TargetGroup(
            arn=outputs["arn"],
            name=name,
            port=int(inputs["port"]),
            check=_health_check(inputs),
            deregistration_delay=float(inputs.get("deregistrationDelay", 300)),
            preserve_client_ip=str(inputs.get("preserveClientIp", "true")).lower() == "true",
        )
        self.world.wait("elb.small")
        return rid, outputs

    def _update_target_group(self, name: str, id_: str, old: dict, old_outputs: Outputs, news: dict) -> Outputs:
        group = self.world.target_groups[old_outputs["arn"]]
        group.check = _health_check(news)
        group.deregistration_delay = float(news.get("deregistrationDelay", 300))
        group.preserve_client_ip = str(news.get("preserveClientIp", "true")).lower() == "true"
        self.world.wait("elb.small")
        return {**old_outputs, **news}

    def _delete_target_group(self, name: str, id_: str, inputs: dict, outputs: Outputs) -> None:
        self.world.wait("elb.small")
        self.world.target_groups.pop(outputs.get("arn", ""), None)

    def _create_listener(self, name: str, inputs: dict) -> tuple[str, Outputs]:
        rid, outputs = self._synthesised("aws:lb/listener:Listener", name, inputs)
        self._listen(inputs)
        self.world.wait("elb.small")
        return rid, outputs

    def _listen(self, inputs: dict) -> None:
        lb = self.world.load_balancers[inputs["loadBalancerArn"]]
        lb.listeners[int(inputs["port"])] = inputs["defaultActions"][0]["targetGroupArn"]

    def _update_listener(self, name: str, id_: str, old: dict, old_outputs: Outputs, news: dict) -> Outputs:
        lb = self.world.load_balancers[old["loadBalancerArn"]]
        lb.listeners.pop(int(old["port"]), None)
        self._listen(news)
        self.world.wait("elb.small")
        return {**old_outputs, **news}

    def _delete_listener(self, name: str, id_: str, inputs: dict, outputs: Outputs) -> None:
        lb = self.world.load_balancers.get(inputs["loadBalancerArn"])
        if lb is not None:
            lb.listeners.pop(int(inputs["port"]), None)
        self.world.wait("elb.small")

    def _create_target_group_attachment(self, name: str, inputs: dict) -> tuple[str, Outputs]:
        group = self.world.target_groups[inputs["targetGroupArn"]]
        waited = 0
        while True:
            try:
                self.world.register(group, inputs["targetId"])
                break
            except WorldError:  # TPA retries RegisterTargets on InvalidTarget for 10 minutes
                if waited >= 600:
                    raise
                self.world.wait(10)
                waited += 10
        self.world.wait("elb.small")
        rid = f"{inputs['targetGroupArn']}-{inputs['targetId']}"
        return rid, {**inputs, "id": rid}

    def _delete_target_group_attachment(self, name: str, id_: str, inputs: dict, outputs: Outputs) -> None:
        group = self.world.target_groups.get(inputs["targetGroupArn"])
        if group is not None:
            self.world.deregister(group, inputs["targetId"])
        self.world.wait("elb.small")


def _health_check(inputs: dict) -> HealthCheck:
    check = inputs.get("healthCheck") or {}
    # TPA's defaults where the program sets none: interval 30, thresholds 3 and 3, a check in the
    # target group's protocol on the traffic port (target_group.go).
    return HealthCheck(
        interval=float(check.get("interval", 30)),
        healthy_threshold=int(check.get("healthyThreshold", 3)),
        unhealthy_threshold=int(check.get("unhealthyThreshold", 3)),
        protocol=str(check.get("protocol") or inputs.get("protocol") or "TCP"),
        port=str(check.get("port") or "traffic-port"),
        path=str(check.get("path") or "/"),
        matcher=str(check.get("matcher") or "200-399"),
    )
