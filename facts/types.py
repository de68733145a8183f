"""The type tokens of the project's component resources, and the URN the engine gives a resource.

A token is part of every URN under the component (its own and its children's, through the type
chain): changing one value here renames every resource of a running stack, which the engine reads as
delete-and-create. The values are frozen; a new component gets a new token, and a renamed one keeps
its old token through an alias.
"""

from __future__ import annotations

from collections.abc import Sequence

SITE = "bitbucket-mirrors:site:MirrorSite"
NETWORK = "bitbucket-mirrors:network:MirrorNetwork"
TLS = "bitbucket-mirrors:tls:AcmCertificate"
LOAD_BALANCER = "bitbucket-mirrors:lb:MirrorLoadBalancer"
HOST = "bitbucket-mirrors:host:MirrorHost"
INSTALL = "bitbucket-mirrors:install:MirrorInstall"
ALARM_TOPICS = "bitbucket-mirrors:monitoring:AlarmTopics"
ALARMS = "bitbucket-mirrors:monitoring:MirrorAlarms"
NODE_METRICS = "bitbucket-mirrors:monitoring:NodeMetrics"


def urn(stack: str, project: str, type_chain: Sequence[str], name: str) -> str:
    """The URN the engine gives the resource `name` whose type is the last of `type_chain`, under the
    parents whose types come before it (outermost first; the stack's own type is not part of it)."""
    if not type_chain:
        raise ValueError("a URN needs the resource's type token (type_chain is empty)")
    return f"urn:pulumi:{stack}::{project}::{'$'.join(type_chain)}::{name}"
