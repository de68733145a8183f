"""`venv/bin/python -m stack_config.check Pulumi.<stack>.yaml`: every config rule on a stack file,
offline, with preview's own message (issue "first hour", item 2)."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from stack_config import ConfigError
from stack_config.check import check_stack_file, main
from stack_config.stack_file import is_ciphertext
from tests.certificates import self_signed
from tests.harness import EXAMPLE_FILES, EXAMPLE_STACK, ROOT, run_program, stack_file_config

# Shaped as the passphrase secrets manager writes them (v1:<12-byte nonce>:<ciphertext>).
CIPHERTEXT = f"v1:{base64.b64encode(b'n' * 12).decode()}:{base64.b64encode(b'ciphertext and its tag').decode()}"
SECRET = "Hq7Zt2pW9vKmX4rLb8Nq"


FLEET = EXAMPLE_FILES["fleet"]  # three sites: syd (nginx), fra (a 3-node farm), pdx


def example(path: Path = EXAMPLE_STACK) -> dict:
    return yaml.safe_load(path.read_text())


def write(tmp_path: Path, document: dict, name: str = "Pulumi.dev.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def with_ciphertext(document: dict) -> dict:
    """The example as it is once its secrets are set (`pulumi config set --secret` writes ciphertext)."""
    config = document["config"]
    config["bitbucket-mirrors:primaryPassword"] = {"secure": CIPHERTEXT}
    for mirror in config["bitbucket-mirrors:mirrors"]:
        if "privateKey" in mirror["tls"]:
            mirror["tls"]["privateKey"] = {"secure": CIPHERTEXT}
    return document


def run_check(path: Path, capsys) -> tuple[int, str, str]:
    code = main([str(path)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_the_example_passes_but_for_its_two_placeholders(capsys):
    code, _, err = run_check(EXAMPLE_STACK, capsys)
    assert code == 1
    assert err.startswith("error: the stack config has 2 problems; nothing was created:\n")
    lines = [line for line in err.splitlines() if line.startswith("  - ")]
    assert [line.split(": ", 1)[0] for line in lines] == [
        "  - bitbucket-mirrors:primaryPassword",
        "  - bitbucket-mirrors:mirrors[0].tls.privateKey",
    ]
    assert all("is a placeholder, not a secret the Pulumi CLI encrypted" in line for line in lines)
    assert "set it with pulumi config set --secret primaryPassword" in lines[0]
    assert "pulumi config set --path --secret 'mirrors[0].tls.privateKey' < key.pem" in lines[1]
    assert "REPLACE-ME-with" not in err  # placeholders are not shown either: one may be a pasted secret


@pytest.mark.parametrize("path", [EXAMPLE_STACK, *EXAMPLE_FILES.values()], ids=lambda p: p.name)
def test_the_example_with_its_secrets_set_passes(tmp_path, capsys, path):
    code, out, err = run_check(write(tmp_path, with_ciphertext(example(path))), capsys)
    assert (code, err) == (0, "")
    assert "no problems" in out


def test_the_example_is_the_smallest_stack_and_the_examples_are_its_larger_kin():
    """A first try costs one node, not a fleet: the farm and the fleet live in examples/."""
    (mirror,) = example()["config"]["bitbucket-mirrors:mirrors"]
    assert mirror.get("nodes", 1) == 1 and mirror["tls"]["mode"] == "nginx"
    assert set(EXAMPLE_FILES) == {"farm", "fleet"}
    farm = example(EXAMPLE_FILES["farm"])["config"]["bitbucket-mirrors:mirrors"]
    assert [m["nodes"] for m in farm] == [3]
    assert len(example(FLEET)["config"]["bitbucket-mirrors:mirrors"]) == 3
    header = EXAMPLE_STACK.read_text().split("config:", 1)[0]
    # The header's steps are README's Quick start step 3: the backend up.sh uses, then the stack.
    assert header.index("export PULUMI_BACKEND_URL=") < header.index("pulumi stack select --create dev")
    assert "pulumi stack init" not in header and "scripts/up.sh --check dev" in header


def broken(document: dict) -> dict:
    config = document["config"]
    config["aws:region"] = "ap-southeast2"
    config["bitbucket-mirrors:primaryPassword"] = SECRET  # plain text
    primary = config["bitbucket-mirrors:primary"]
    primary["url"] = f"https://bitbucket.example.com:99999/?token={SECRET}"
    primary["caBundle"] = "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"
    config["bitbucket-mirrors:network"]["adminCidrs"] = ["0.0.0.0/1", "128.0.0.0/1"]
    syd, fra, pdx = config["bitbucket-mirrors:mirrors"]
    syd["bitbucketVersion"] = 9.4
    syd["nodes"] = 2  # a farm with nginx
    syd["tls"]["privateKey"] = {"secure": "v1:REPLACE-ME"}
    fra["region"] = "eu-centrl-1"
    fra["tls"]["hostedZoneID"] = fra["tls"].pop("hostedZoneId")
    fra["mirrorAll"], fra["projects"] = True, ["PLAT"]
    pdx["name"] = "syd"  # a second syd
    pdx["instanceType"] = "t3.medium"
    return document


EXPECTED_BROKEN = {
    "primaryPassword": "is written in plain text in Pulumi.broken.yaml",
    "mirrors[0].tls.privateKey": "is a placeholder",
    "primary.url": "got ':99999'",
    "primary.caBundle": "has nothing between its BEGIN and END lines",
    "network.adminCidrs[0]": "opens SSH to 2,092,957,696 public IPv4 addresses",
    "network.adminCidrs[1]": "opens SSH to 1,609,300,992 public IPv4 addresses",
    "mirrors[0].bitbucketVersion": 'quote it, e.g. bitbucketVersion: "9.4.16"',
    "mirrors[1].region": "did you mean 'eu-central-1'?",
    "mirrors[1].tls.hostedZoneID": "did you mean 'hostedZoneId'?",
    "aws:region": "did you mean 'ap-southeast-2'?",
    "mirrors[0].tls.mode": "a mirror farm (nodes: 2) needs tls.mode 'acm'",
    "mirrors[1].mirrorAll": "remove either mirrorAll or projects",
    "mirrors[2].name": "'syd' is already used by mirrors[0]",
    "mirrors[2].instanceType": "'t3.medium' has 2 vCPU / 4 GiB",
}


def test_a_broken_file_has_every_problem_reported_in_one_pass(tmp_path, capsys):
    code, _, err = run_check(write(tmp_path, broken(example(FLEET)), "Pulumi.broken.yaml"), capsys)
    assert code == 1
    assert err.startswith(f"error: the stack config has {len(EXPECTED_BROKEN)} problems; nothing was created:\n"), err
    lines = {line[4:].split(": ", 1)[0]: line for line in err.splitlines() if line.startswith("  - ")}
    keys = {k if ":" in k else f"bitbucket-mirrors:{k}" for k in EXPECTED_BROKEN}
    assert set(lines) == keys
    for key, words in EXPECTED_BROKEN.items():
        assert words in lines[key if ":" in key else f"bitbucket-mirrors:{key}"], (key, lines)
    assert SECRET not in err and "REPLACE-ME" not in err


def test_the_check_says_what_preview_says(tmp_path):
    # Preview's message for a stack file (secrets decrypted by the harness, as the CLI would), and the
    # check's for the same file: the same ConfigError text, problem for problem.
    document = broken(with_ciphertext(example(FLEET)))
    config = document["config"]
    config["bitbucket-mirrors:primaryPassword"] = {"secure": CIPHERTEXT}
    config["bitbucket-mirrors:mirrors"][0]["tls"]["privateKey"] = {"secure": CIPHERTEXT}
    path = write(tmp_path, document)
    problems, _ = check_stack_file(path)
    bag, secret_keys = stack_file_config(path)
    with pytest.raises(ConfigError) as preview:
        run_program(config=bag, secret_keys=secret_keys)
    assert str(ConfigError(problems)) == str(preview.value)


def test_a_secure_value_pasted_in_by_hand_is_a_placeholder_and_not_shown(tmp_path, capsys):
    document = with_ciphertext(example())
    document["config"]["bitbucket-mirrors:primaryPassword"] = {"secure": SECRET}
    code, _, err = run_check(write(tmp_path, document), capsys)
    assert code == 1 and "bitbucket-mirrors:primaryPassword: is a placeholder" in err and SECRET not in err


def test_a_private_key_in_plain_text_is_flagged_without_showing_it(tmp_path, capsys):
    document = with_ciphertext(example())
    key = f"-----BEGIN PRIVATE KEY-----\n{SECRET}\n-----END PRIVATE KEY-----\n"
    document["config"]["bitbucket-mirrors:mirrors"][0]["tls"]["privateKey"] = key
    code, _, err = run_check(write(tmp_path, document), capsys)
    assert code == 1
    assert "bitbucket-mirrors:mirrors[0].tls.privateKey: is written in plain text in Pulumi.dev.yaml" in err
    assert SECRET not in err


def test_a_secure_value_at_another_key_is_left_to_preview(tmp_path, capsys):
    document = with_ciphertext(example())
    document["config"]["bitbucket-mirrors:primary"]["username"] = {"secure": CIPHERTEXT}
    code, _, err = run_check(write(tmp_path, document), capsys)
    assert code == 0
    assert "warning: primary.username: a secure value is checked at preview only" in err


def test_the_check_needs_no_network(tmp_path, capsys, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the check opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    code, _, err = run_check(write(tmp_path, broken(example(FLEET))), capsys)
    assert code == 1 and "problems" in err


def test_the_command_runs_without_the_pulumi_cli_or_aws(tmp_path):
    path = write(tmp_path, with_ciphertext(example()))
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
    }
    ok = subprocess.run(
        [sys.executable, "-m", "stack_config.check", str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "stack_config.check", str(EXAMPLE_STACK)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1 and bad.stderr.startswith("error: the stack config has 2 problems")


@pytest.mark.parametrize(
    "content, words",
    [
        (None, "no such file"),
        ("config: [unclosed", "is not valid YAML"),
        ("- a list", "is not a stack file"),
    ],
    ids=["missing", "not-yaml", "not-a-mapping"],
)
def test_a_file_that_is_no_stack_file_exits_2(tmp_path, capsys, content, words):
    path = tmp_path / "Pulumi.x.yaml"
    if content is not None:
        path.write_text(content)
    code, _, err = run_check(path, capsys)
    assert code == 2 and words in err


def test_a_yaml_error_is_told_by_position_without_quoting_the_line(tmp_path, capsys):
    path = tmp_path / "Pulumi.x.yaml"
    path.write_text(f"config:\n  bitbucket-mirrors:primaryPassword: {SECRET}: [\n")
    code, _, err = run_check(path, capsys)
    assert code == 2 and "is not valid YAML at line 2" in err and SECRET not in err


def test_usage_without_a_file(capsys):
    assert main([]) == 2 and "usage:" in capsys.readouterr().err


@pytest.mark.parametrize(
    "value, ciphertext",
    [
        (CIPHERTEXT, True),
        (base64.b64encode(os.urandom(64)).decode(), True),  # Pulumi Cloud's form: one base64 string
        ("v1:placeholder", False),
        ("v1:REPLACE-ME-with-pulumi-config-set-secret", False),
        (SECRET, False),
        (f"v1:{base64.b64encode(b'short').decode()}:{base64.b64encode(b'x').decode()}", False),  # nonce not 12 bytes
        ("REPLACEMEREPLACEME==", False),
        ("", False),
        (12345, False),
        ("REPLACEMEPLEASEREPLACEMEPLEASEREPLACEMEX", False),  # base64 of the right length, but a placeholder's word
    ],
)
def test_ciphertext_shapes(value, ciphertext):
    assert is_ciphertext(value) is ciphertext


def test_an_object_key_whose_whole_value_is_secure_is_left_to_preview(tmp_path, capsys):
    document = with_ciphertext(example())
    document["config"]["bitbucket-mirrors:monitoring"] = {"secure": CIPHERTEXT}
    code, _, err = run_check(write(tmp_path, document), capsys)
    assert code == 0, err


def test_top_level_values_reach_the_rules_as_the_cli_hands_them(tmp_path, capsys):
    document = with_ciphertext(example())
    document["config"]["bitbucket-mirrors:primary"] = "https://bitbucket.example.com"
    document["config"]["bitbucket-mirrors:mirror"] = json.loads(
        json.dumps(document["config"]["bitbucket-mirrors:mirrors"])
    )
    code, _, err = run_check(write(tmp_path, document), capsys)
    assert code == 1
    assert "bitbucket-mirrors:primary: expected an object" in err
    assert "bitbucket-mirrors:mirror: unknown key; did you mean 'mirrors'?" in err


def test_the_readme_sample_output(tmp_path, capsys):
    document = with_ciphertext(example(FLEET))
    fra = document["config"]["bitbucket-mirrors:mirrors"][1]
    fra["tls"] = {
        "mode": "nginx",
        "hostedZoneID": "Z0123456789ABCDEFGHIJ",
        "certificate": self_signed("mirror-fra.example.com", "mirror-fra.example.com"),
        "privateKey": {"secure": CIPHERTEXT},
    }
    code, _, err = run_check(write(tmp_path, document), capsys)
    assert code == 1
    assert err == (
        "error: the stack config has 2 problems; nothing was created:\n"
        "  - bitbucket-mirrors:mirrors[1].tls.hostedZoneID: unknown key; did you mean 'hostedZoneId'?\n"
        "  - bitbucket-mirrors:mirrors[1].tls.mode: a mirror farm (nodes: 3) needs tls.mode 'acm': the "
        "farm sits behind one load balancer; nginx mode serves a single node\n"
    )
