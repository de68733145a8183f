"""The baseline the program is measured against: a bare Pulumi program creating EC2 instances
(one by default; BASELINE_INSTANCES=N for a baseline with as many resources as the program)."""
import os

import pulumi_aws as aws

for i in range(int(os.environ.get("BASELINE_INSTANCES", "1"))):
    aws.ec2.Instance(f"baseline-{i}", ami="ami-0123456789abcdef0", instance_type="m6i.xlarge")
