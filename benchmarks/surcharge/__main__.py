"""What the SDK's typed resource classes cost over plain registration: N security groups, either
as `aws.ec2.SecurityGroup` (SURCHARGE_KIND=typed) or as plain `pulumi.CustomResource` of the same
type and inputs (plain). Both import pulumi_aws, so only registration differs."""
import os

import pulumi
import pulumi_aws as aws

for i in range(int(os.environ["SURCHARGE_COUNT"])):
    inputs = {"vpc_id": "vpc-0123456789abcdef0", "description": f"group {i}", "revoke_rules_on_delete": True,
              "tags": {"Name": f"group-{i}"}}
    if os.environ["SURCHARGE_KIND"] == "typed":
        aws.ec2.SecurityGroup(f"group-{i}", **inputs)
    else:
        pulumi.CustomResource("aws:ec2/securityGroup:SecurityGroup", f"group-{i}",
                              {"vpcId": inputs["vpc_id"], "description": inputs["description"],
                               "revokeRulesOnDelete": True, "tags": inputs["tags"], "name": None, "namePrefix": None,
                               "egress": None, "ingress": None, "region": None, "tagsAll": None, "arn": None,
                               "ownerId": None})
