"""Every secret value of a stack, looked for everywhere Pulumi would keep it in the clear.

What is secret: the stack's `secure:` config values (the primary password, the nginx private key,
the bastion key) and every output a resource lists in `additionalSecretOutputs` (the Hazelcast
password from random.RandomPassword, every tls.PrivateKey's private halves: each node's login and
host key, the site's SSH server key; an SSM parameter's value). Generated SDKs list there what
their schema marks secret, and the engine stores those outputs as secrets; `twin.program` hands
them back to the program as secrets the same way, which Pulumi's own mocks do not.

Where a value must not appear: any resource input outside a secret, any output that is neither
listed in `additionalSecretOutputs` nor carried over from a secret input of the same name (the
engine keeps that secretness, pulumi/pulumi `annotateSecrets`), any component's registered outputs
and any stack output that is not secret. Strings are opened as well as read: base64, gzip, tar
(the install bundle shipped on a command's stdin is all three) and JSON, at any depth.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import io
import json
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pulumi
import pytest
import yaml

from tests.harness import (
    EXAMPLE_FILES,
    EXAMPLE_STACK,
    SECRET_KEY,
    SECRET_SIG,
    STACKS,
    TEST_PASSWORD,
    ProgramRun,
    _stand_in,
    revealed,
    run_program,
)
from tests.resource_types import COMMAND, PARAMETER, PRIVATE_KEY, RANDOM_PASSWORD

from .conftest import SECRETS

MIN_NEEDLE = 8  # shorter pieces of a secret would match by chance


# --- the scan --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Secret:
    origin: str  # where the value comes from: a config key, or a resource's output
    value: str

    def needles(self) -> list[str]:
        """What a copy of the value contains wherever it lands: a PEM's body lines (a file may
        re-wrap the armour or the final newline), or the whole value."""
        lines = [line.strip() for line in self.value.strip().splitlines()]
        if len(lines) > 1 and lines[0].startswith("-----BEGIN"):
            return [line for line in lines if not line.startswith("-----") and len(line) >= MIN_NEEDLE]
        return [self.value.strip()] if len(self.value.strip()) >= MIN_NEEDLE else []


def config_secrets(stack_file: Path, secrets: dict[str, str]) -> list[Secret]:
    """The `secure:` values of a stack file, as the CLI hands them to the program (the harness's
    stand-ins where the test gives none), and the primary password."""
    found: list[Secret] = []

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict) and set(value) == {"secure"}:
            found.append(Secret(f"config {path}", secrets.get(path, _stand_in(path))))
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{path}.{k}")
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{path}[{i}]")

    for key, value in ((yaml.safe_load(stack_file.read_text()) or {}).get("config") or {}).items():
        walk(value, key.split(":", 1)[-1])
    return found


def output_secrets(run: ProgramRun) -> list[Secret]:
    """Every output the program's resources ask the engine to keep secret."""
    found = []
    for resource in run.resources:
        for name in resource.options.get("additionalSecretOutputs") or ():
            value = revealed(resource.outputs.get(name))
            if isinstance(value, str) and value:
                found.append(Secret(f"{resource.typ} {resource.name}.{name}", value))
    return found


def _is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_KEY) == SECRET_SIG


def opened(text: str, depth: int = 0) -> Iterator[tuple[str, str]]:
    """(how it was reached, text) for the string itself and everything inside it: base64 decoded,
    gzip inflated, every file of a tar, every string of a JSON document."""
    yield "", text
    if depth >= 6:
        return
    stripped = text.strip()
    if stripped[:1] in "[{":
        try:
            document = json.loads(stripped)
        except ValueError:
            document = None
        if isinstance(document, (dict, list)):
            for path, value in _strings(document, "", skip_secrets=False):
                for inner, found in opened(value, depth + 1):
                    yield f" json{path}{inner}", found
    compact = re.sub(r"\s+", "", stripped)
    if len(compact) >= 16 and len(compact) % 4 == 0 and re.fullmatch(r"[A-Za-z0-9+/]+={0,2}", compact):
        try:
            raw = base64.b64decode(compact, validate=True)
        except (binascii.Error, ValueError):
            return
        for inner, found in _opened_bytes(raw, depth + 1):
            yield f" base64{inner}", found


def _opened_bytes(raw: bytes, depth: int) -> Iterator[tuple[str, str]]:
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError):
            pass
        else:
            for inner, found in _opened_bytes(raw, depth):
                yield f" gzip{inner}", found
            return
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
            members = [(m.name, tar.extractfile(m).read()) for m in tar.getmembers() if m.isfile()]
    except (tarfile.TarError, EOFError):
        members = None
    if members:
        for name, data in members:
            for inner, found in _opened_bytes(data, depth):
                yield f" tar:{name}{inner}", found
        return
    # Text, or binary (a pickled dynamic provider): read byte for byte either way.
    for inner, found in opened(raw.decode("latin-1"), depth):
        yield inner, found


def _strings(value: Any, path: str, skip_secrets: bool = True) -> Iterator[tuple[str, str]]:
    """(path, string) for every string in a value, outside secret wrappers when skip_secrets."""
    if _is_secret(value):
        if skip_secrets:
            return
        value = value.get("value")
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, f"{path}.{k}", skip_secrets)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, f"{path}[{i}]", skip_secrets)
    elif isinstance(value, str):
        yield path, value


def _hits(where: str, value: Any, secrets: list[Secret], skip_secrets: bool = True) -> list[str]:
    """Where each secret sits in `value`: the innermost place (a file in a bundle rather than
    the bundle), once per string."""
    hits = []
    for path, text in _strings(value, "", skip_secrets):
        layers = list(opened(text))
        for secret in secrets:
            places = [inside for inside, content in layers if any(needle in content for needle in secret.needles())]
            hits += [
                f"{secret.origin} in {where}{path}{inside}"
                for inside in places
                if not any(other != inside and other.startswith(inside) for other in places)
            ]
    return hits


def scan(run: ProgramRun, secrets: list[Secret]) -> list[str]:
    """Every place a secret value sits where the engine would keep it in the clear."""
    leaks = []
    for resource in run.resources:
        name = f"{resource.typ} {resource.name}"
        leaks += _hits(f"{name} input ", resource.wire_inputs, secrets)
        secret_outputs = set(resource.options.get("additionalSecretOutputs") or ())
        plain = {
            k: v
            for k, v in resource.outputs.items()
            if k not in secret_outputs and not _is_secret(resource.wire_inputs.get(k))
        }
        leaks += _hits(f"{name} output ", plain, secrets)
    for urn, outputs in run.component_outputs.items():
        leaks += _hits(f"component {urn.rsplit('::', 1)[-1]} output ", outputs, secrets)
    leaks += _hits("stack output ", {k: v for k, v in run.outputs.items() if k not in run.secret_outputs}, secrets)
    return leaks


def all_secrets(run: ProgramRun, stack_file: Path) -> list[Secret]:
    return [Secret("config primaryPassword", TEST_PASSWORD), *config_secrets(stack_file, SECRETS), *output_secrets(run)]


# --- the program's stacks --------------------------------------------------------------------

# The stacks the session's `runs` (conftest.py) ran, by the same names.
STACK_FILES = {**{p.stem: p for p in sorted(STACKS.glob("*.yaml"))}, "example": EXAMPLE_STACK, **EXAMPLE_FILES}


@pytest.mark.parametrize("stack", list(STACK_FILES))
def test_no_secret_value_sits_outside_a_secret_in_any_input_output_or_bundle(runs, stack):
    run = runs[stack]
    assert scan(run, all_secrets(run, STACK_FILES[stack])) == []


def test_every_kind_of_secret_is_looked_for_and_found_inside_the_secrets_that_carry_it(runs):
    """The scan above would pass if it knew no secret, or could not open a bundle: the same scan,
    reading inside secrets too, finds each kind where it travels."""

    def found(run: ProgramRun, stack: str, resource: str, origin: str, typ: str = COMMAND) -> list[str]:
        secrets = [s for s in all_secrets(run, STACK_FILES[stack]) if origin in s.origin and s.needles()]
        assert secrets, f"no secret from {origin} in {stack}"
        target = run.one(typ, resource)
        return _hits(resource, target.wire_inputs, secrets, skip_secrets=False)

    farm = runs["farm-3"]
    properties = found(farm, "farm-3", "iad-node1-stage", "RandomPassword iad-hazelcast.result")
    assert properties and all("base64 gzip tar:bitbucket.properties" in hit for hit in properties)
    ssh_key = found(farm, "farm-3", "iad-node2-stage", "PrivateKey iad-ssh-server-key.privateKeyPem")
    assert ssh_key and all("tar:ssh-server-keys.pem" in hit for hit in ssh_key)
    assert found(farm, "farm-3", "iad-node0-stage", "PrivateKey iad-login-key.privateKeyOpenssh")  # connection
    assert found(
        farm,
        "farm-3",
        "iad-node0-host-key",
        "PrivateKey iad-node0-host-key.privateKeyOpenssh",
        PARAMETER,
    )
    nginx = runs["single-nginx"]
    assert any("tar:tls.key" in hit for hit in found(nginx, "single-nginx", "syd-node0-stage", "tls.privateKey"))
    bastion = runs["two-sites"]
    assert found(bastion, "two-sites", "syd-node0-stage", "network.bastion.privateKey")
    # The generated secrets are secret outputs of their resources (the engine's additionalSecretOutputs).
    origins = {s.origin for s in output_secrets(farm)}
    assert {
        f"{RANDOM_PASSWORD} iad-hazelcast.result",
        f"{PRIVATE_KEY} iad-ssh-server-key.privateKeyPem",
        f"{PARAMETER} iad-node0-host-key.value",
    } <= origins
    # And the primary password is looked for, in every stack, though no resource ever receives it.
    assert all(any(s.value == TEST_PASSWORD for s in all_secrets(r, STACK_FILES[n])) for n, r in runs.items())


def test_a_farm_bundle_shipped_outside_a_secret_fails_the_scan(monkeypatch):
    """The mutation the older secret tests let through: the farm's bundle (Hazelcast password, the
    site's SSH server key) on the stage command's stdin in the clear."""
    import components.install
    import components.rollout

    real = components.install.staged_payload

    def plain_bundle(args):
        payload, digest = real(args)
        return pulumi.Output.unsecret(payload), digest

    monkeypatch.setattr(components.install, "staged_payload", plain_bundle)
    monkeypatch.setattr(components.rollout, "staged_payload", plain_bundle)
    stack = STACK_FILES["farm-3"]
    run = run_program(stack, SECRETS)
    leaks = scan(run, all_secrets(run, stack))
    for node in range(3):
        assert any(
            hit.startswith(
                f"{RANDOM_PASSWORD} iad-hazelcast.result in "
                f"{COMMAND} iad-node{node}-stage input .stdin base64 gzip tar:bitbucket.properties"
            )
            for hit in leaks
        ), leaks
        assert any(f"iad-node{node}-stage input .stdin base64 gzip tar:ssh-server-keys.pem" in hit for hit in leaks)
    # Read as plain strings, as the older tests did, the same inputs show nothing: the bundle hides it.
    password = next(s.value for s in output_secrets(run) if s.origin.endswith("iad-hazelcast.result"))
    assert password not in json.dumps([r.wire_inputs for r in run.resources])


# --- the scan itself, on a program made to leak ------------------------------------------------

LEAKY_PROGRAM = """
import pulumi
import pulumi_aws as aws
import pulumi_random as random

password = random.RandomPassword("pw", length=24, special=False)
derived = password.result.apply(lambda p: f"group.password={p}")
aws.ssm.Parameter("kept", name="/kept", type="SecureString", value=password.result,
                  description="nothing secret", tags={"fine": derived})
aws.ssm.Parameter("leak", name="/leak", type="String", value="public",
                  description=pulumi.Output.unsecret(derived))
pulumi.export("fine", derived)
pulumi.export("leaked", pulumi.Output.unsecret(password.result))
"""


def test_the_scan_tells_secret_from_plain_in_inputs_outputs_and_stack_outputs(tmp_path):
    program = tmp_path / "__main__.py"
    program.write_text(LEAKY_PROGRAM)
    run = run_program(program=program, config={}, stack="test")
    secrets = [s for s in output_secrets(run) if s.needles()]
    assert [s.origin for s in secrets] == [
        f"{RANDOM_PASSWORD} pw.result",
        f"{PARAMETER} kept.value",
    ]  # the same value
    leaks = [hit for hit in scan(run, secrets) if hit.startswith("random:")]
    # Computed from a secret output, a value is secret (the engine marks it, the harness models
    # that): the parameter "kept" and the export "fine" are. What the program unwraps is not.
    assert sorted(leaks) == sorted(
        [
            (f"{RANDOM_PASSWORD} pw.result in {PARAMETER} leak input .description"),
            (f"{RANDOM_PASSWORD} pw.result in {PARAMETER} leak output .description"),
            f"{RANDOM_PASSWORD} pw.result in stack output .leaked",
        ]
    )
    assert "fine" in run.secret_outputs


def test_bundles_and_documents_are_opened_at_any_depth():
    secret = Secret("test", "s3cr3t-value-42")
    inner = json.dumps({"config": {"password": secret.value}})
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        data = inner.encode()
        info = tarfile.TarInfo("etc/app.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    bundle = base64.b64encode(buffer.getvalue()).decode()
    wrapped = base64.b64encode(json.dumps({"payload": bundle}).encode()).decode()
    assert _hits("x", {"a": [wrapped]}, [secret]) == [
        "test in x.a[0] base64 json.payload base64 gzip tar:etc/app.json json.config.password"
    ]
    assert _hits("x", {"a": {SECRET_KEY: SECRET_SIG, "value": wrapped}}, [secret]) == []
    assert _hits("x", {"a": base64.b64encode(b"nothing to see here").decode()}, [secret]) == []
