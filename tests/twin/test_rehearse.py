"""`python -m twin.rehearse`: a change rehearsed from what git says was deployed, printed for a person."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from twin import rehearse
from twin.program import STACKS


def _stack(path: Path, **mirror) -> Path:
    document = yaml.safe_load((STACKS / "single-acm.yaml").read_text())
    document["config"]["bitbucket-mirrors:mirrors"][0].update(mirror)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def _committed(tmp_path: Path) -> Path:
    stack = _stack(tmp_path / "Pulumi.dev.yaml")
    for command in (
        ["init", "-q"],
        ["add", stack.name],
        ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"],
    ):
        subprocess.run(["git", *command], cwd=tmp_path, check=True)
    return stack


def test_a_bug_fix_upgrade_rehearsed_against_the_committed_file(tmp_path, capsys):
    stack = _committed(tmp_path)
    # The stack pins its installer: an admin changes it with the version (preview refuses otherwise).
    installer = {"url": "https://artifacts.internal.example.com/atlassian-bitbucket-9.4.17.tar.gz", "sha256": "ab" * 32}
    _stack(stack, bitbucketVersion="9.4.17", installer=installer)
    assert rehearse.main([str(stack)]) == 0
    out = capsys.readouterr().out
    assert "HEAD-Pulumi.dev.yaml -> Pulumi.dev.yaml" in out and "a model" in out
    assert "Command fra-node0-install" in out  # the steps, in order, with their modelled times
    assert "clones:" in out and "failed" in out
    # A single node restarts on the new version: its clients notice, and the rehearsal says so.
    failed = int(out.split("Clients: ")[1].split(" ")[0])
    assert failed > 0
    assert "The change converges" in out
    assert "1 |" in out  # the site's chart of nodes serving


def test_a_change_preview_refuses_is_said_with_the_refusal_and_no_steps(tmp_path, capsys):
    before = _stack(tmp_path / "before.yaml")
    after = _stack(tmp_path / "after.yaml", bitbucketVersion="9.4.15")
    assert rehearse.main([str(after), "--before", str(before)]) == 0
    out = capsys.readouterr().out
    assert "pulumi preview would refuse this change" in out and "bitbucketVersion" in out
    assert "The up:" not in out


def test_a_file_git_does_not_have_at_the_ref_names_the_way_out(tmp_path, capsys):
    stack = _committed(tmp_path)
    other = _stack(tmp_path / "Pulumi.prod.yaml")
    assert rehearse.main([str(other)]) == 2
    assert "--before FILE" in capsys.readouterr().err
    assert rehearse.main([str(tmp_path / "missing.yaml")]) == 2
    assert stack.exists()


def test_the_chart_shows_when_fewer_nodes_served():
    rows = rehearse.chart([[0.0, 2], [60.0, 1], [120.0, 2]], nodes=2, wall_s=180.0)
    top, bottom = rows[0], rows[1]
    third = rehearse.WIDTH // 3
    body = top.split("|", 1)[1].ljust(rehearse.WIDTH)
    assert (
        body[:third].strip("#") == "" and body[third : 2 * third].strip() == "" and body[2 * third :].strip("#") == ""
    )
    assert bottom.split("|", 1)[1] == "#" * rehearse.WIDTH
