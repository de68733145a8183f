"""The world the twin's `pulumi up` changes: EC2 instances, EBS volumes, network load balancers,
DNS, and Bitbucket on each node, all on modelled time.

Every behaviour names its source. What clients see is reached the way they reach it: a host name
resolves through DNS to a load balancer (or a node, nginx mode), the load balancer picks a target
by its health checks, and the node answers only while Bitbucket runs on it.

AWS behaviour (what forces a replacement is in rules.py; what happens in the world, here):
- stop/start: "We release your instance's public IP address when it is stopped ... Your stopped
  instance receives a new public IP address when it is started"; private addresses and attached EBS
  volumes are kept (EC2 User Guide, "Public IPv4 addresses"; "How stop and start works").
- AttachVolume: "to a running or stopped instance"; nothing starts a stopped instance (botocore ec2
  AttachVolume; TPA ebs_volume_attachment.go has no StartInstances). DetachVolume of a mounted volume
  "can result in the volume becoming stuck in the busy state" (botocore ec2 DetachVolume).
- RegisterTargets: "it must be in the running state when you register it"; a target passes to
  healthy after HealthyThresholdCount consecutive successful checks and out of service after
  UnhealthyThresholdCount failures (NLB guide, "Health checks for your target groups"); a
  deregistered target is `draining` for the deregistration delay, then `unused` (NLB guide, "Target
  groups": "changes the state of a deregistering target to unused after 300 seconds"); when no
  target is healthy the NLB fails open to all registered targets (same health-check page).
"""

from __future__ import annotations

from .world_bitbucket import WorldBitbucket
from .world_ebs import WorldEbs
from .world_ec2 import WorldEc2
from .world_elb import WorldLoadBalancing
from .world_objects import Instance, WorldError
from .world_reach import WorldReach

# aws_api.py takes Instance and WorldError from here, with World.
__all__ = ["Instance", "World", "WorldError"]


class World(WorldEc2, WorldEbs, WorldBitbucket, WorldLoadBalancing, WorldReach):
    """The world one twin plays its ups in: each part (twin/world_*.py) is one AWS service or Bitbucket
    on its nodes, all over one WorldState (what exists, modelled time)."""
