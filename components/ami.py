"""The current Amazon Linux 2023 or Ubuntu LTS image for a node's architecture."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

_CANONICAL = "099720109477"
_NAME = {
    ("al2023", "x86_64"): "al2023-ami-2023.*-x86_64",
    ("al2023", "arm64"): "al2023-ami-2023.*-arm64",
    ("ubuntu", "x86_64"): "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*",
    ("ubuntu", "arm64"): "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-arm64-server-*",
}


def current_ami(
    os: str, architecture: str, region: str, opts: pulumi.InvokeOptions | None = None
) -> pulumi.Output[str]:
    owner = "amazon" if os == "al2023" else _CANONICAL
    return aws.ec2.get_ami_output(
        most_recent=True,
        owners=[owner],
        filters=[
            aws.ec2.GetAmiFilterArgs(name="name", values=[_NAME[(os, architecture)]]),
            aws.ec2.GetAmiFilterArgs(name="architecture", values=[architecture]),
            aws.ec2.GetAmiFilterArgs(name="state", values=["available"]),
        ],
        region=region,
        opts=opts,
    ).id
