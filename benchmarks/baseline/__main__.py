"""The baseline the program is measured against: a bare Pulumi program with one EC2 instance."""
import pulumi_aws as aws

aws.ec2.Instance("baseline", ami="ami-0123456789abcdef0", instance_type="m6i.xlarge")
