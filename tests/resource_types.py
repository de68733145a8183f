"""The type tokens of what the program registers and calls, as the engine names them: one list for every
test (a test spells a token through these names, never as a literal). The values are the engine's and
the providers', written out here rather than taken from facts/types.py: a test then notices when the
program's token changes (every URN of a running stack with it)."""

# Resources

INSTANCE = "aws:ec2/instance:Instance"
VOLUME = "aws:ebs/volume:Volume"
ATTACHMENT = "aws:ec2/volumeAttachment:VolumeAttachment"
GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
NLB = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
TG_ATTACHMENT = "aws:lb/targetGroupAttachment:TargetGroupAttachment"
CERT = "aws:acm/certificate:Certificate"
CERT_VALIDATION = "aws:acm/certificateValidation:CertificateValidation"
RECORD = "aws:route53/record:Record"
TOPIC = "aws:sns/topic:Topic"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
KEY_PAIR = "aws:ec2/keyPair:KeyPair"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
INSTANCE_PROFILE = "aws:iam/instanceProfile:InstanceProfile"
PARAMETER = "aws:ssm/parameter:Parameter"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
COMMAND = "command:remote:Command"
PRIVATE_KEY = "tls:index/privateKey:PrivateKey"
RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"
STACK = "pulumi:pulumi:Stack"

# The project's dynamic providers: DYNAMIC + the provider's name
DYNAMIC = "pulumi-python:dynamic/bitbucket:"
SETUP = "pulumi-python:dynamic/bitbucket:MirrorSetup"
APPROVAL = "pulumi-python:dynamic/bitbucket:MirrorApproval"
PROJECTS = "pulumi-python:dynamic/bitbucket:MirroredProjects"
GENERATION = "pulumi-python:dynamic/bitbucket:MirrorGeneration"
NODE_RETURN = "pulumi-python:dynamic/bitbucket:NodeReturn"

# Invokes (data sources)
GET_AMI = "aws:ec2/getAmi:getAmi"
GET_SNAPSHOT = "aws:ebs/getSnapshot:getSnapshot"
GET_SNAPSHOT_IDS = "aws:ebs/getSnapshotIds:getSnapshotIds"
GET_SUBNET = "aws:ec2/getSubnet:getSubnet"
GET_SUBNETS = "aws:ec2/getSubnets:getSubnets"
GET_VPC = "aws:ec2/getVpc:getVpc"

# The project's components
SITE = "bitbucket-mirrors:site:MirrorSite"
