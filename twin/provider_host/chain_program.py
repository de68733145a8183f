"""A Pulumi program that registers one site's provider chain, as MirrorSite wires it, against
URLs from config (the emulator's): MirrorSetup -> MirrorApproval -> MirroredProjects.

Run under the mocks (twin/program.py) it yields what the SDK sends the engine at registration,
`__provider` included, which the host-level tests then hand to the SDK's own provider host.
"""

import pulumi

from providers.mirror_approval import MirrorApproval, MirrorApprovalArgs
from providers.mirror_setup import MirrorSetup, MirrorSetupArgs
from providers.mirrored_projects import MirroredProjects, MirroredProjectsArgs

config = pulumi.Config("hosttest")
for site in config.require_object("sites"):
    name = site["name"]
    setup = MirrorSetup(
        f"{name}-setup",
        MirrorSetupArgs(
            primary_url=site["primaryUrl"],
            display_name=site["displayName"],
            base_url=site["baseUrl"],
            ca_bundle=site["caBundle"],
        ),
    )
    approval = MirrorApproval(
        f"{name}-approval",
        MirrorApprovalArgs(
            primary_url=site["primaryUrl"],
            base_url=site["baseUrl"],
            timeout_s=site.get("timeoutS", 60),
            ca_bundle=site["caBundle"],
            expected_type="SINGLE",
            home_zone=site.get("homeZone"),
        ),
        opts=pulumi.ResourceOptions(depends_on=[setup]),
    )
    MirroredProjects(
        f"{name}-projects",
        MirroredProjectsArgs(
            primary_url=site["primaryUrl"],
            mirror_url=site["baseUrl"],
            mirror_id=approval.mirror_id,
            project_keys=site["projects"],
            wait_for_sync=site.get("waitForSync", False),
            sync_timeout_s=site.get("syncTimeoutS", 3600),
            ca_bundle=site["caBundle"],
        ),
        opts=pulumi.ResourceOptions(depends_on=[approval]),
    )
