"""The mocks' answers to the program: the few computed outputs of its resources (addresses, ARNs,
a key pair's stand-ins, a dynamic resource's outputs) and its data-source calls (VPCs, subnets,
AMIs, snapshots)."""

from __future__ import annotations

import hashlib
from typing import Any, Optional

import pulumi

from .recorded import RecordedCall

# Where a regional resource created without a `region` would land (the program never relies on it).
MOCK_DEFAULT_REGION = "ap-southeast-2"


def _fake_id(typ: str, name: str) -> str:
    return f"{typ.split(':')[-1].lower()}-{hashlib.sha1(name.encode()).hexdigest()[:12]}"


class ProgramMocks(pulumi.runtime.Mocks):
    """Answers for the few computed outputs and data-source calls the program reads."""

    def __init__(self) -> None:
        self.calls: list[RecordedCall] = []
        self._ip = 10

    def _next_ip(self, name: str) -> str:
        # From the name, not the registration order: the same node gets the same address in every
        # run, however the event loop happens to order registrations.
        digest = hashlib.sha1(name.encode()).digest()
        self._ip = 1 + digest[1] % 254
        return f"10.{20 + digest[0] % 8}.0.{self._ip}"

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        outputs = dict(args.inputs)
        rid = _fake_id(args.typ, args.name)
        typ = args.typ
        # Regional resources answer in the region they were created in (pulumi-aws 7 `region`).
        region = args.inputs.get("region") or MOCK_DEFAULT_REGION
        if typ == "aws:ec2/instance:Instance":
            outputs.update(
                privateIp=self._next_ip(args.name),
                publicIp=f"203.0.113.{self._ip}",
                availabilityZone=outputs.get("availabilityZone", f"{region}a"),
                arn=f"arn:aws:ec2:{region}:123456789012:instance/{rid}",
            )
        elif typ == "aws:ec2/securityGroup:SecurityGroup":
            outputs.update(arn=f"arn:aws:ec2:{region}:123456789012:security-group/{rid}")
        elif typ == "aws:lb/loadBalancer:LoadBalancer":
            outputs.update(
                dnsName=f"{args.name}.elb.{region}.amazonaws.com",
                zoneId="Z1GM3OXH4ZPM65",
                arn=f"arn:aws:elasticloadbalancing:{region}:123456789012:loadbalancer/net/{args.name}/{rid}",
                arnSuffix=f"net/{args.name}/{rid}",
            )
        elif typ == "aws:lb/targetGroup:TargetGroup":
            outputs.update(
                arn=f"arn:aws:elasticloadbalancing:{region}:123456789012:targetgroup/{args.name}/{rid}",
                arnSuffix=f"targetgroup/{args.name}/{rid}",
            )
        elif typ == "aws:sns/topic:Topic":
            outputs.update(arn=f"arn:aws:sns:{region}:123456789012:{args.name}")
        elif typ == "aws:acm/certificate:Certificate":
            domain = outputs.get("domainName", "example.com")
            outputs.update(
                arn=f"arn:aws:acm:{region}:123456789012:certificate/{rid}",
                domainValidationOptions=[
                    {
                        "domainName": domain,
                        "resourceRecordName": f"_x1.{domain}.",
                        "resourceRecordType": "CNAME",
                        "resourceRecordValue": "_y1.acm-validations.aws.",
                    }
                ],
            )
        elif typ == "aws:acm/certificateValidation:CertificateValidation":
            outputs.update(id=rid)
        elif typ == "aws:iam/role:Role":
            # Auto-named like the provider does it: the logical name and a random suffix.
            outputs.setdefault("name", f"{args.name}-{hashlib.sha1(args.name.encode()).hexdigest()[:7]}")
            outputs.update(arn=f"arn:aws:iam::123456789012:role/{outputs['name']}")
        elif typ == "aws:ssm/parameter:Parameter":
            outputs.update(arn=f"arn:aws:ssm:{region}:123456789012:parameter{outputs.get('name', '/' + args.name)}")
        elif typ == "aws:ebs/volume:Volume":
            rid = "vol-0" + hashlib.sha1(args.name.encode()).hexdigest()[:16]
        elif typ.startswith("tls:index/privateKey:PrivateKey"):
            outputs.update(mock_key_pair(args.name, args.inputs.get("algorithm", "ED25519")))
        elif typ == "random:index/randomPassword:RandomPassword":
            outputs.update(result="mock-random-" + hashlib.sha1(args.name.encode()).hexdigest()[:20])
        elif typ.startswith("pulumi-python:dynamic/bitbucket:"):
            outputs.update(_dynamic_outputs(typ, args.name, outputs))
        return rid, outputs

    def call(self, args: pulumi.runtime.MockCallArgs):
        self.calls.append(RecordedCall(args.token, dict(args.args)))
        token = args.token
        if token == "aws:ec2/getVpc:getVpc":
            if args.args.get("id"):  # a configured VPC: the lookup answers for that one
                return {"id": args.args["id"], "cidrBlock": "10.100.0.0/16", "default": False}
            return {"id": default_vpc_of(args.args.get("region")), "cidrBlock": "172.31.0.0/16", "default": True}
        if token == "aws:ec2/getSubnets:getSubnets":
            vpc = args.args["filters"][0]["values"][0]
            if vpc == default_vpc_of(MOCK_DEFAULT_REGION) or not vpc.startswith("vpc-0default"):
                return {"ids": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2", "subnet-0ccccccccccccccc3"]}
            return {"ids": [f"subnet-{vpc[4:]}{n}" for n in "abc"]}  # each region's default VPC has its own
        if token == "aws:ec2/getAmi:getAmi":
            return {
                "id": "ami-0mock0000000000001",
                "architecture": "x86_64",
                "region": args.args.get("region") or MOCK_DEFAULT_REGION,
            }
        if token == "aws:ec2/getSubnet:getSubnet":
            return {
                "id": args.args.get("id"),
                "availabilityZone": (args.args.get("region") or MOCK_DEFAULT_REGION) + "a",
            }
        if token == "aws:ebs/getSnapshotIds:getSnapshotIds":
            # One snapshot per node and version, named from what was asked (what a restore finds).
            tags = {f["name"]: f["values"][0] for f in args.args.get("filters", [])}
            node, version = tags.get("tag:bitbucket-mirrors:node", "?"), tags.get("tag:bitbucket-mirrors:version", "?")
            return {
                "id": args.args.get("region") or MOCK_DEFAULT_REGION,
                "ids": ["snap-0" + hashlib.sha1(f"{node}|{version}".encode()).hexdigest()[:16]],
            }
        if token == "aws:ebs/getSnapshot:getSnapshot":
            snapshot = args.args["snapshotIds"][0]
            return {"id": snapshot, "snapshotId": snapshot, "volumeId": "vol-0" + snapshot[6:22]}
        if token == "aws:index/getRegion:getRegion":
            return {"name": "ap-southeast-2", "region": "ap-southeast-2"}
        return {}


def stand_in_pem(label: str, body: str) -> str:
    """A PEM-armoured stand-in the mocks hand out in place of a key: its label says what it stands
    for, its body is a marker (no key material lives in this package)."""
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n"


def mock_key_pair(name: str, algorithm: str) -> dict[str, str]:
    """What pulumi-tls returns for a key, in the shapes the program reads (RSA's PEM is PKCS#1).
    The private halves' bodies appear in no public half, so a scan can look for them anywhere."""
    tag = hashlib.sha1(name.encode()).hexdigest()[:16]
    if algorithm == "RSA":
        return {
            "privateKeyOpenssh": stand_in_pem("OPENSSH PRIVATE KEY", f"mockrsa{tag}"),
            "privateKeyPem": stand_in_pem("RSA PRIVATE KEY", f"mockpem{tag}"),
            "publicKeyOpenssh": f"ssh-rsa AAAAB3mock{tag}\n",
        }
    return {
        "privateKeyOpenssh": stand_in_pem("OPENSSH PRIVATE KEY", f"mockssh{tag}"),
        "privateKeyPem": stand_in_pem("PRIVATE KEY", f"mockpem{tag}"),
        "publicKeyOpenssh": f"ssh-ed25519 AAAAmock{tag}\n",
    }


def default_vpc_of(region: Optional[str]) -> str:
    """Each region has a default VPC of its own (one id for the stacks' usual regions, as before)."""
    if region in (None, MOCK_DEFAULT_REGION, "eu-central-1"):
        return "vpc-0default000000001"
    return "vpc-0default" + hashlib.sha256(region.encode()).hexdigest()[:9]


def _dynamic_outputs(typ: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    kind = typ.rsplit(":", 1)[-1]
    if kind == "MirrorSetup":
        # What the provider renders for these inputs (a preflight needs a primary; mocks have none).
        from providers.setup_properties import render_setup_block

        block = render_setup_block(inputs["display_name"], inputs["base_url"], inputs["primary_url"])
        return {"properties": block, "primary_version": "9.4.16", "primary_ssh_port": 7999}
    if kind == "MirrorGeneration":
        # A new generation whenever the provider would replace for these inputs (the setup values;
        # leaving mirror-all needs the old state, which mocks do not have: tests/providers covers it).
        from providers.urls import normalise_base_url

        setup = "|".join(
            [inputs["display_name"], normalise_base_url(inputs["base_url"]), normalise_base_url(inputs["primary_url"])]
        )
        return {"generation": hashlib.sha1(f"{name}|{setup}".encode()).hexdigest()[:16]}
    if kind == "ArchiveTrust":
        # What the nodes' preflights would have verified for this site and version (a stand-in digest).
        return {"sha256": hashlib.sha256(f"{name}|{inputs['version']}".encode()).hexdigest(), "digests": {}}
    if kind == "UpgradeWindow":
        return {"kind": "install", "previous_version": None}
    if kind == "MirrorApproval":
        return {"mirror_id": f"mirror-{name}", "mirror_name": name, "mirror_type": "SINGLE"}
    return {}
