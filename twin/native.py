"""What pulumi-aws, pulumi-tls, pulumi-random and pulumi-command do in the world for a create, an
update and a delete of each resource type the program uses, and the outputs they return.

The behaviour of the AWS resources is terraform-provider-aws's (TPA, as pulumi-aws wraps it):
- aws_instance Create waits for `running`; Update applies instance_type and user_data each by
  stop, modify, start (modifyInstanceAttributeWithStopStart: an instance that was stopped ends up
  started), everything else without a restart; Delete terminates.
- aws_volume_attachment Create waits for the instance to be running or stopped and attaches (never
  starts it); Delete with stop_instance_before_detaching stops the instance, then detaches, and
  never starts it again.
- aws_ebs_volume size and type change by ModifyVolume; Delete retries while the volume is in use.
- aws_lb_target_group_attachment Create registers (retried on InvalidTarget for 10 minutes), Delete
  deregisters without waiting for the draining.
- aws_lb Create waits for `active`.
"""

from __future__ import annotations

from typing import Any, Optional

from .native_base import Outputs, _kind
from .native_ec2 import NativeEc2
from .native_elb import NativeLoadBalancing
from .native_network import NativeNetwork
from .native_records import NativeRecords


class Native(NativeEc2, NativeLoadBalancing, NativeRecords, NativeNetwork):
    """The native resources' providers in the twin: each create, update and delete goes to its type's
    handler (twin/native_*.py; pulumi-command's run here, on the node), or spends an AWS call's time
    and returns the mocks' outputs."""

    # --- entry points --------------------------------------------------------------------------
    def create(self, typ: str, name: str, inputs: dict) -> tuple[str, Outputs]:
        handler = getattr(self, "_create_" + _kind(typ), None)
        if handler is not None:
            return handler(name, inputs)
        self.world.wait(_call_time(typ))
        return self._synthesised(typ, name, inputs)

    def update(self, typ: str, name: str, id_: str, old_inputs: dict, old_outputs: Outputs, news: dict) -> Outputs:
        handler = getattr(self, "_update_" + _kind(typ), None)
        if handler is not None:
            return handler(name, id_, old_inputs, old_outputs, news)
        self.world.wait(_call_time(typ))
        return {**old_outputs, **news}

    def delete(self, typ: str, name: str, id_: str, inputs: dict, outputs: Outputs) -> None:
        handler = getattr(self, "_delete_" + _kind(typ), None)
        if handler is not None:
            handler(name, id_, inputs, outputs)
        else:
            self.world.wait(_call_time(typ))

    # --- pulumi-command -------------------------------------------------------------------------
    def _create_command(self, name: str, inputs: dict) -> tuple[str, Outputs]:
        stdout = self.node.run(inputs.get("connection") or {}, inputs.get("create"), inputs.get("stdin"))
        return f"{name}-{next(self._serial)}", {**inputs, "stdout": stdout, "stderr": ""}

    def _update_command(self, name: str, id_: str, old: dict, old_outputs: Outputs, news: dict) -> Outputs:
        # remote/commandController.go Update: the `update` command when set, else `create`, on the new connection.
        command = news.get("update") or news.get("create")
        stdout = self.node.run(news.get("connection") or {}, command, news.get("stdin"))
        return {**news, "stdout": stdout, "stderr": ""}

    def _delete_command(self, name: str, id_: str, inputs: dict, outputs: Outputs) -> None:
        # Delete runs the stored `delete` with the stored (old) connection.
        self.node.run(inputs.get("connection") or {}, inputs.get("delete"), None)


def _call_time(typ: str) -> str:
    return "aws.call" if typ.startswith("aws:") else 0.0  # type: ignore[return-value]


def _unused(_: Optional[Any] = None) -> None:
    return None
