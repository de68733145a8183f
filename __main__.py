"""bitbucket-mirrors: validate the stack config, build one MirrorSite per mirror, export the URLs."""

import pulumi

from components.monitoring import AlarmTopics, AlarmTopicsArgs, site_topic
from components.region import placements
from components.site import MirrorSite, MirrorSiteArgs
from stack_config import load_stack_config
from stack_config.engine import require_pulumi_cli

require_pulumi_cli()
config = load_stack_config()
where = placements(config.sites)
stack = pulumi.get_stack()
monitored = [site for site in config.sites if site.monitoring is not None]
topics = AlarmTopics(f"bitbucket-mirrors-{stack}-alarms", AlarmTopicsArgs(stack, monitored)) if monitored else None
sites = {
    site.name: MirrorSite(
        site.name,
        MirrorSiteArgs(
            site=site,
            primary=config.primary,
            placement=where[site.name],
            stack=stack,
            alarm_topic_arn=site_topic(site, topics.arns if topics else {}),
        ),
    )
    for site in config.sites
}

for name, site in sites.items():
    pulumi.export(f"{name}Url", site.url)
    pulumi.export(f"{name}SshUrl", site.ssh_url)
    pulumi.export(f"{name}SshKnownHosts", site.ssh_known_hosts)  # for clients' ~/.ssh/known_hosts
    pulumi.export(f"{name}MirrorId", site.mirror_id)
    pulumi.export(f"{name}NodeAddresses", site.node_addresses)
    pulumi.export(f"{name}NodeSessions", site.node_sessions)  # a shell on each node (Session Manager)
    pulumi.export(f"{name}Region", site.region)
pulumi.export(
    "mirrors",
    {
        name: {
            "url": site.url,
            "sshUrl": site.ssh_url,
            "sshHostKey": site.ssh_host_key,
            "sshKnownHosts": site.ssh_known_hosts,
            "mirrorId": site.mirror_id,
            "nodeAddresses": site.node_addresses,
            "nodeSessions": site.node_sessions,
            "region": site.region,
        }
        for name, site in sites.items()
    },
)
if topics is not None:
    pulumi.export("alarmTopics", topics.arns)  # region -> ARN of the topics this stack created
