"""Where the rollout providers were first defined: existing stacks' state names these import paths
(the SDK pickles a provider class by module and name), so they stay importable here. New code
imports them from `providers.upgrade` and `providers.node_rollout`."""

from .node_rollout import (
    InstanceChangeArgs,
    InstanceStartReturn,
    InstanceStartReturnProvider,
    InstanceStopDrain,
    InstanceStopDrainProvider,
    NodeDrain,
    NodeDrainProvider,
    NodeReturn,
    NodeReturnProvider,
    NodeTargetsArgs,
)
from .upgrade import (
    UpgradeFinish,
    UpgradeFinishArgs,
    UpgradeFinishProvider,
    UpgradeWindow,
    UpgradeWindowArgs,
    UpgradeWindowProvider,
)

__all__ = [
    "InstanceChangeArgs",
    "InstanceStartReturn",
    "InstanceStartReturnProvider",
    "InstanceStopDrain",
    "InstanceStopDrainProvider",
    "NodeDrain",
    "NodeDrainProvider",
    "NodeReturn",
    "NodeReturnProvider",
    "NodeTargetsArgs",
    "UpgradeFinish",
    "UpgradeFinishArgs",
    "UpgradeFinishProvider",
    "UpgradeWindow",
    "UpgradeWindowArgs",
    "UpgradeWindowProvider",
]
