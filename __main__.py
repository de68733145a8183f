"""bitbucket-mirrors: validate the stack config, build one MirrorSite per mirror, export the URLs."""
import pulumi

from components.network import resolve_placement
from components.site import MirrorSite, MirrorSiteArgs
from stack_config import load_stack_config
from stack_config.engine import require_pulumi_cli

require_pulumi_cli()
config = load_stack_config()
placement = resolve_placement(config.network)
sites = {
    mirror.name: MirrorSite(mirror.name, MirrorSiteArgs(
        mirror=mirror, primary=config.primary, network=config.network,
        placement=placement, stack=pulumi.get_stack()))
    for mirror in config.mirrors
}

for name, site in sites.items():
    pulumi.export(f"{name}Url", site.url)
    pulumi.export(f"{name}SshUrl", site.ssh_url)
    pulumi.export(f"{name}MirrorId", site.mirror_id)
    pulumi.export(f"{name}NodeAddresses", site.node_addresses)
pulumi.export("mirrors", {
    name: {"url": site.url, "sshUrl": site.ssh_url, "mirrorId": site.mirror_id, "nodeAddresses": site.node_addresses}
    for name, site in sites.items()
})
