"""How long things take in the twin's modelled time: one table, each figure with where it comes from.

AWS documents almost none of these ("documented" below names the page where it does); the others
are stated: typical figures an operator sees, written down once so that every scenario uses the
same ones and a reader can disagree with a number in one place. Health checks and the
deregistration delay are not here: the twin reads them from the program's own target groups.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    """One modelled duration, in seconds, with where it comes from (a document, or `stated`: our
    assumption where none documents it)."""

    seconds: float
    source: str


FIGURES: dict[str, Figure] = {
    # EC2 (terraform-provider-aws waits for the state: waitInstanceCreated / Stopped / Started)
    "ec2.launch": Figure(45, "stated: RunInstances until `running`; AWS documents no launch time"),
    "ec2.boot": Figure(40, "stated: `running` until sshd accepts (cloud-init bootcmd pins the host key first)"),
    "ec2.stop": Figure(
        40, "stated: StopInstances until `stopped`; AWS bounds only a forced stop ('within a few minutes')"
    ),
    "ec2.start": Figure(30, "stated: StartInstances until `running`"),
    "ec2.modify": Figure(2, "stated: ModifyInstanceAttribute on a stopped instance"),
    "ec2.terminate": Figure(45, "stated: TerminateInstances until `terminated`"),
    "ebs.create": Figure(10, "stated: CreateVolume until `available`"),
    "ebs.modify": Figure(5, "stated: ModifyVolume until the size is in effect (optimizing goes on in the background)"),
    "ebs.attach": Figure(5, "stated: AttachVolume until `attached`"),
    "ebs.detach": Figure(5, "stated: DetachVolume until `available`"),
    "ebs.snapshot": Figure(60, "stated: CreateSnapshot until `completed` for a mostly-unchanged 100 GiB home"),
    "ec2.replace_root": Figure(120, "stated: CreateReplaceRootVolumeTask until `succeeded` (the instance reboots)"),
    # Load balancing
    "elb.create": Figure(180, "stated: CreateLoadBalancer (network) until `active` (terraform waitLoadBalancerActive)"),
    "elb.small": Figure(2, "stated: target groups, listeners, registrations: one API call"),
    # Certificates and DNS
    "acm.request": Figure(5, "stated: RequestCertificate"),
    "acm.validate": Figure(120, "stated: DNS validation until ISSUED"),
    "route53.change": Figure(30, "stated: ChangeResourceRecordSets until INSYNC (terraform waits for it)"),
    # Everything else AWS: one API call
    "aws.call": Figure(2, "stated: a single API call (security groups, rules, IAM, SSM, SNS, CloudWatch)"),
    "iam.role": Figure(5, "stated: CreateRole, with IAM's propagation wait"),
    # On a node (pulumi-command over SSH)
    "ssh.dial": Figure(15, "pulumi-command: perDialTimeout 15 s per attempt (remote/connection.go)"),
    "node.command": Figure(2, "stated: a short command over SSH (stage files, systemctl, xfs_growfs)"),
    "node.packages": Figure(30, "stated: dnf/apt install of Java, Git, OpenSSH (already present: a check)"),
    "node.download": Figure(60, "stated: download and unpack the Bitbucket archive (about 250 MB)"),
    "node.wipe": Figure(10, "stated: empty a home volume"),
    "bitbucket.stop": Figure(15, "stated: systemctl stop atlbitbucket until the JVM exits"),
    "bitbucket.first_start": Figure(150, "stated: a new mirror's first start until /status RUNNING"),
    "bitbucket.start": Figure(100, "stated: a mirror's restart until /status RUNNING"),
    "bitbucket.join": Figure(20, "stated: a started farm node until the farm lists it (Hazelcast join)"),
    "bitbucket.register": Figure(5, "stated: a new mirror's request appears on the primary after its first start"),
}


def seconds(key: str) -> float:
    return FIGURES[key].seconds
