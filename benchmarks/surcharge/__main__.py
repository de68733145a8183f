"""What the SDK's typed resource classes cost over plain registration, measured on security groups
(the first approximation of the floor's surcharge; the typed replay measures it on the program's own
classes): N security groups, either as `aws.ec2.SecurityGroup` (SURCHARGE_KIND=typed) or as plain
`pulumi.CustomResource` of the same type and inputs (plain). Both load pulumi_aws.ec2, so only
registration differs."""

import os

import pulumi
import pulumi_aws as aws

assert aws.ec2.SecurityGroup  # loads the module (lazy until read) for both kinds
for i in range(int(os.environ["SURCHARGE_COUNT"])):
    inputs = {
        "vpc_id": "vpc-0123456789abcdef0",
        "description": f"group {i}",
        "revoke_rules_on_delete": True,
        "tags": {"Name": f"group-{i}"},
    }
    if os.environ["SURCHARGE_KIND"] == "typed":
        aws.ec2.SecurityGroup(f"group-{i}", **inputs)
    else:
        pulumi.CustomResource(
            "aws:ec2/securityGroup:SecurityGroup",
            f"group-{i}",
            {
                "vpcId": inputs["vpc_id"],
                "description": inputs["description"],
                "revokeRulesOnDelete": True,
                "tags": inputs["tags"],
                "name": None,
                "namePrefix": None,
                "egress": None,
                "ingress": None,
                "region": None,
                "tagsAll": None,
                "arn": None,
                "ownerId": None,
            },
        )
