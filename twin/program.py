"""Run the real program (`__main__.py`) under Pulumi's mocks with a real stack file.

`run_program(stack_file)` returns every registered resource with its inputs, its raw wire inputs
(where secrets are still wrapped, so tests can prove key material never travels in the clear),
its parent and its dependencies, plus the resolved stack outputs. Each run gets a fresh event
loop and a fresh context: Pulumi keeps its settings and root stack in ContextVars, and
module-level `set_mocks` breaks on newer Pythons.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import json
import logging
import pickle
import runpy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, TypeVar

import grpc
import pulumi
import yaml
from google.protobuf import json_format, struct_pb2
from packaging.version import Version
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime.proto import engine_pb2
from pulumi.runtime.settings import get_root_resource
from pulumi.runtime.stack import run_pulumi_func, wait_for_rpcs

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[1]
PROGRAM = ROOT / "__main__.py"
EXAMPLE_STACK = ROOT / "Pulumi.example.yaml"
# The larger examples users copy (examples/Pulumi.<name>.yaml), checked like the example, by <name>.
EXAMPLE_FILES = {p.name.split(".")[1]: p for p in sorted((ROOT / "examples").glob("Pulumi.*.yaml"))}
STACKS = ROOT / "twin" / "stacks"  # the stack files the twin rehearses and the suite runs the program on
PROJECT = "bitbucket-mirrors"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"  # Pulumi's wire signature of a secret value
SECRET_KEY = "4dabf18193072939515e22adb298388d"

# Where a regional resource created without a `region` would land (the program never relies on it).
MOCK_DEFAULT_REGION = "ap-southeast-2"

# The CLI the mocked engine claims to be (RequirePulumiVersion); a test may pretend an older one.
CURRENT_CLI = "3.207.0"

# Stand-ins for `secure:` values of stack files, which the CLI would decrypt for the program.
TEST_PASSWORD = "pw-Test-9f3b1c"


@dataclass
class RecordedResource:
    typ: str
    name: str
    urn: str
    id: str
    inputs: dict[str, Any]
    wire_inputs: dict[str, Any]
    parent: str
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    custom: bool
    outputs: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class RecordedCall:
    token: str
    args: dict[str, Any]


@dataclass
class ProgramRun:
    resources: list[RecordedResource]
    calls: list[RecordedCall]
    outputs: dict[str, Any]
    secret_outputs: set[str]
    warnings: list[str]
    component_outputs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def of_type(self, typ: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.typ == typ]

    def one(self, typ: str, name: Optional[str] = None) -> RecordedResource:
        found = [r for r in self.of_type(typ) if name is None or r.name == name]
        assert len(found) == 1, f"expected one {typ} {name or ''}, found {[r.name for r in found]}"
        return found[0]

    def by_urn(self, urn: str) -> RecordedResource:
        return next(r for r in self.resources if r.urn == urn)

    def by_id(self, id_: str) -> RecordedResource:
        return next(r for r in self.resources if r.id == id_)

    def children_of(self, parent: RecordedResource) -> list[RecordedResource]:
        return [r for r in self.resources if r.parent == parent.urn]

    def depends_on(self, resource: RecordedResource, other: RecordedResource) -> bool:
        """Whether `resource` waits for `other`, directly or through dependencies and parents."""
        seen: set[str] = set()
        todo = list(self._direct_deps(resource))
        while todo:
            urn = todo.pop()
            if urn == other.urn:
                return True
            if urn in seen:
                continue
            seen.add(urn)
            dep = next((r for r in self.resources if r.urn == urn), None)
            if dep is not None:
                todo += self._direct_deps(dep)
                # A dependency on a component waits for all of its children.
                todo += [c.urn for c in self.children_of(dep)]
        return False

    @staticmethod
    def _direct_deps(resource: RecordedResource) -> list[str]:
        deps = list(resource.dependencies)
        for urns in resource.property_dependencies.values():
            deps += urns
        return deps


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
        # What node 0's preflight would have verified for this site and version (a stand-in digest).
        return {"sha256": hashlib.sha256(f"{name}|{inputs['version']}".encode()).hexdigest(), "digests": {}}
    if kind == "UpgradeWindow":
        return {"kind": "install", "previous_version": None}
    if kind == "MirrorApproval":
        return {"mirror_id": f"mirror-{name}", "mirror_name": name, "mirror_type": "SINGLE"}
    return {}


class _EngineRpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


def satisfies(version: str, version_range: str) -> bool:
    """Whether `version` is in a space-separated AND of comparisons (the subset of the engine's
    blang/semver ranges this program uses: >=, >, <=, <, =)."""
    current = Version(version)
    for clause in version_range.split():
        op = next(o for o in (">=", "<=", ">", "<", "=", "") if clause.startswith(o))
        bound = Version(clause[len(op) :])
        ok = {
            ">=": current >= bound,
            "<=": current <= bound,
            ">": current > bound,
            "<": current < bound,
            "=": current == bound,
            "": current == bound,
        }[op]
        if not ok:
            return False
    return True


class VersionedEngine(pulumi_mocks.MockEngine):
    """The engine's answer to RequirePulumiVersion: CLIs from before the RPC do not implement it;
    newer ones refuse a range they are not in with this message (pulumi/pulumi
    `plugin.ValidatePulumiVersionRange`)."""

    def __init__(self, logger: logging.Logger, cli_version: Optional[str]) -> None:
        super().__init__(logger)
        self.cli_version = cli_version

    def RequirePulumiVersion(self, request):
        if self.cli_version is None:
            raise _EngineRpcError(grpc.StatusCode.UNIMPLEMENTED, "unknown method RequirePulumiVersion")
        version_range = request.pulumi_version_range
        if not satisfies(self.cli_version, version_range):
            raise _EngineRpcError(
                grpc.StatusCode.UNKNOWN,
                f'Pulumi CLI version {self.cli_version} does not satisfy the version range "{version_range}"',
            )
        return engine_pb2.RequirePulumiVersionResponse()


def mark_secret_outputs(request, response) -> None:
    """What the engine does with a registration's `additionalSecretOutputs`, and the SDK's mocks do
    not: those outputs come back to the program as secrets (so everything computed from them is one,
    as it is in a real `pulumi up`). Generated SDKs list there every output their schema marks secret:
    a random password's `result`, a private key's PEM, an SSM parameter's `value`."""
    names = list(getattr(request, "additionalSecretOutputs", ()) or ())
    fields = response.object.fields
    for name in names:
        if name not in fields:
            continue
        value = fields[name]
        if (
            value.HasField("struct_value")
            and value.struct_value.fields.get(SECRET_KEY, struct_pb2.Value()).string_value == SECRET_SIG
        ):
            continue
        wrapped = struct_pb2.Struct()
        wrapped.fields[SECRET_KEY].string_value = SECRET_SIG
        wrapped.fields["value"].CopyFrom(value)
        fields[name].struct_value.CopyFrom(wrapped)


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """Keeps the raw wire form of every registration: parent, dependencies, secrets still wrapped."""

    def __init__(self, mocks: ProgramMocks) -> None:
        super().__init__(mocks)
        self.records: list[RecordedResource] = []
        self.component_outputs: dict[str, dict[str, Any]] = {}  # urn -> registered outputs (wire form)

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        mark_secret_outputs(request, response)
        wire = json_format.MessageToDict(request.object)
        record = RecordedResource(
            typ=request.type,
            name=request.name,
            urn=response.urn,
            id=response.id,
            # What the provider receives, in the clear; `wire_inputs` keeps the secrets wrapped.
            inputs=revealed(pulumi.runtime.rpc.deserialize_properties(request.object)),
            wire_inputs=wire,
            parent=request.parent,
            dependencies=list(request.dependencies),
            property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
            custom=bool(request.custom),
            outputs=dict(self.resources[response.urn].state) if response.urn in self.resources else {},
            options={
                "deleteBeforeReplace": request.deleteBeforeReplace,
                "additionalSecretOutputs": list(request.additionalSecretOutputs),
                "replaceOnChanges": list(request.replaceOnChanges),
                "ignoreChanges": list(request.ignoreChanges),
                "protect": request.protect if request.HasField("protect") else None,
                "retainOnDelete": request.retainOnDelete if request.HasField("retainOnDelete") else None,
            },
        )
        self.records.append(record)
        return response

    def RegisterResourceOutputs(self, request):
        self.component_outputs[request.urn] = json_format.MessageToDict(request.outputs)
        return super().RegisterResourceOutputs(request)


class CountingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: ProgramMocks) -> None:
        super().__init__(mocks)
        self.records: list[RecordedResource] = []

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            mark_secret_outputs(request, response)
            self.records.append(
                RecordedResource(
                    request.type,
                    request.name,
                    response.urn,
                    response.id,
                    {},
                    {},
                    request.parent,
                    [],
                    {},
                    bool(request.custom),
                )
            )
        return response


class _WarningCollector(logging.Handler):
    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(record.getMessage())


def stack_file_config(stack_file: Path, secrets: Optional[dict[str, str]] = None) -> tuple[dict[str, str], list[str]]:
    """The config bag the CLI would hand the program for this stack file.

    `secure:` values become `secrets[key path]` (or a test stand-in); as the CLI does, a top-level
    key holding any secret is marked secret as a whole.
    """
    document = yaml.safe_load(stack_file.read_text()) or {}
    secrets = secrets or {}
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in (document.get("config") or {}).items():
        found: list[bool] = []
        plain = _decrypt(value, key.split(":", 1)[-1], secrets, found)
        full_key = key if ":" in key else f"{PROJECT}:{key}"
        config[full_key] = plain if isinstance(plain, str) else json.dumps(plain)
        if found:
            secret_keys.append(full_key)
    return config, secret_keys


def _decrypt(value: Any, path: str, secrets: dict[str, str], found: list[bool]) -> Any:
    if isinstance(value, dict) and set(value) == {"secure"}:
        found.append(True)
        return secrets.get(path, _stand_in(path))
    if isinstance(value, dict):
        return {k: _decrypt(v, f"{path}.{k}", secrets, found) for k, v in value.items()}
    if isinstance(value, list):
        return [_decrypt(v, f"{path}[{i}]", secrets, found) for i, v in enumerate(value)]
    return value


def _stand_in(path: str) -> str:
    if path == "primaryPassword":
        return TEST_PASSWORD
    if path.endswith("privateKey"):
        return stand_in_pem("PRIVATE KEY", f"TEST-SECRET[{path}]")
    return f"TEST-SECRET[{path}]"


def run_program(
    stack_file: Path = EXAMPLE_STACK,
    secrets: Optional[dict[str, str]] = None,
    *,
    config: Optional[dict[str, str]] = None,
    secret_keys: Iterable[str] = (),
    stack: str = "test",
    preview: bool = False,
    program: Path = PROGRAM,
    record: bool = True,
    cli_version: Optional[str] = CURRENT_CLI,
) -> ProgramRun:
    """Run `__main__.py` (or another program) against a stack file or a config bag under mocks.

    record=False skips keeping each registration's wire form (benchmarks time the program, not
    the recorder); `resources` then only counts registrations. cli_version is what the mocked
    engine claims to be (None: a CLI from before RequirePulumiVersion).
    """
    if config is None:
        config, file_secret_keys = stack_file_config(stack_file, secrets)
        secret_keys = list(secret_keys) + file_secret_keys
    return contextvars.Context().run(
        _run_isolated, config, list(secret_keys), stack, preview, program, record, cli_version
    )


# pulumi.dynamic's serialize_provider wraps pickle._Pickler._batch_setitems once more on every call
# and never unwraps it (SDK 3.272): one program run adds a few dozen layers, but this process runs
# the program hundreds of times. Each run starts from the original, as a fresh `pulumi up` would.
_BATCH_SETITEMS = pickle._Pickler._batch_setitems  # type: ignore[attr-defined]


def _run_isolated(
    config: dict[str, str],
    secret_keys: list[str],
    stack: str,
    preview: bool,
    program: Path,
    record: bool,
    cli_version: Optional[str],
) -> ProgramRun:
    pickle._Pickler._batch_setitems = _BATCH_SETITEMS  # type: ignore[attr-defined]
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    warnings: list[str] = []
    mocks = ProgramMocks()
    monitor = RecordingMonitor(mocks) if record else CountingMonitor(mocks)
    try:
        logger = logging.getLogger(f"pulumi-program-{id(warnings)}")
        logger.propagate = False
        logger.addHandler(_WarningCollector(warnings))
        pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview, monitor=monitor, logger=logger)
        pulumi.runtime.settings.SETTINGS.engine = VersionedEngine(logger, cli_version)
        pulumi.runtime.set_all_config(config, secret_keys)
        root = get_root_resource()

        async def main() -> tuple[dict[str, Any], set[str]]:
            await run_pulumi_func(lambda: runpy.run_path(str(program), run_name="__main__"))
            values, secret = {}, set()
            for key, output in root.outputs.items():  # type: ignore[union-attr]
                out = pulumi.Output.from_input(output)
                values[key] = await out.future(with_unknowns=True)
                if await out.is_secret():
                    secret.add(key)
            return values, secret

        outputs, secret_outputs = loop.run_until_complete(main())
        return ProgramRun(
            monitor.records, mocks.calls, outputs, secret_outputs, warnings, getattr(monitor, "component_outputs", {})
        )
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
        asyncio.set_event_loop(None)


def in_runtime(
    fn: Callable[[asyncio.AbstractEventLoop], T], config: dict[str, str], secret_keys: Iterable[str] = ()
) -> T:
    """Call `fn(loop)` inside a fresh mock runtime, event loop and context holding this config bag."""

    def run() -> T:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            pulumi.runtime.set_mocks(ProgramMocks(), project=PROJECT, stack="test")
            pulumi.runtime.set_all_config(config, list(secret_keys))
            return fn(loop)
        finally:
            loop.run_until_complete(wait_for_rpcs())
            loop.close()
            asyncio.set_event_loop(None)

    return contextvars.Context().run(run)


def revealed(value: Any) -> Any:
    """`value` with every secret wrapper removed, at any depth."""
    if isinstance(value, dict):
        if value.get(SECRET_KEY) == SECRET_SIG:
            return revealed(value.get("value"))
        return {k: revealed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [revealed(v) for v in value]
    return value
