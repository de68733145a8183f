"""The node-side health publisher: clean under shellcheck, and run for real in a scratch root
against a fake /status and a fake metrics sink (an `aws` stand-in that records what it was sent)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from components.host_files import METRICS_SCRIPT_PATH, MetricsSpec, render_metrics_publisher, render_metrics_units
from tests.shell_checks import assert_clean_shell_script

SPEC = MetricsSpec(region="eu-central-1", site="fra", node="fra-node1")
SINK = '#!/usr/bin/env bash\nprintf "%s\\n" "$@" >"$METRICS_SINK"\n'


def test_publisher_passes_shellcheck(tmp_path):
    assert_clean_shell_script(render_metrics_publisher(SPEC), tmp_path, "publish-metrics.sh")


def test_units_run_the_publisher_every_minute_with_the_snap_path():
    units = render_metrics_units()
    assert f"ExecStart=/usr/bin/env bash {METRICS_SCRIPT_PATH}" in units["bitbucket-mirror-metrics.service"]
    assert ":/snap/bin" in units["bitbucket-mirror-metrics.service"]  # Ubuntu's AWS CLI
    assert "OnUnitActiveSec=1min" in units["bitbucket-mirror-metrics.timer"]


def test_values_reaching_the_script_are_validated():
    with pytest.raises(ValueError, match="^node:"):
        MetricsSpec(region="eu-central-1", site="fra", node="fra node1; reboot")
    with pytest.raises(ValueError, match="^region:"):
        MetricsSpec(region="frankfurt", site="fra", node="fra-node1")


class _Status(BaseHTTPRequestHandler):
    answer: tuple[int, str] = (200, '{"state":"RUNNING"}')

    def do_GET(self):  # noqa: N802 - http.server's name
        status, body = self.answer
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def node(tmp_path):
    root = tmp_path / "root"
    home = root / SPEC.home_dir.lstrip("/")
    home.mkdir(parents=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    aws = bin_dir / "aws"
    aws.write_text(SINK)
    aws.chmod(aws.stat().st_mode | stat.S_IXUSR)
    script = tmp_path / "publish-metrics.sh"
    script.write_text(render_metrics_publisher(SPEC))
    server = HTTPServer(("127.0.0.1", 0), _Status)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sink = tmp_path / "sink.txt"

    def publish(answer=None, status_url=None):
        _Status.answer = answer or (200, '{"state":"RUNNING"}')
        env = {
            **os.environ,
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "BBM_ROOT": str(root),
            "BBM_STATUS_URL": status_url or f"http://127.0.0.1:{server.server_port}/status",
            "METRICS_SINK": str(sink),
        }
        done = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        args = sink.read_text().splitlines()
        values = dict(zip(args[::2], args[1::2]))
        data = {m["MetricName"]: m for m in json.loads(values["--metric-data"])}
        return values, data

    yield home, publish
    server.shutdown()


def test_a_running_node_reports_running_and_its_home_usage(node):
    home, publish = node
    values, data = publish()
    assert values["cloudwatch"] == "put-metric-data"
    assert (values["--region"], values["--namespace"]) == ("eu-central-1", "BitbucketMirrors")
    expected = int(
        subprocess.run(["df", "--output=pcent", str(home)], capture_output=True, text=True)
        .stdout.splitlines()[-1]
        .strip()
        .rstrip("%")
    )
    assert data["HomeUsedPercent"]["Value"] == expected and data["HomeUsedPercent"]["Unit"] == "Percent"
    assert data["StatusRunning"]["Value"] == 1
    for metric in data.values():
        assert metric["Dimensions"] == [{"Name": "Site", "Value": "fra"}, {"Name": "Node", "Value": "fra-node1"}]


@pytest.mark.parametrize(
    "answer",
    [(503, '{"state":"STARTING"}'), (200, '{"state":"MAINTENANCE"}'), (500, '{"state":"ERROR"}'), (200, "not json")],
)
def test_anything_but_running_reports_not_running(node, answer):
    _, publish = node
    _, data = publish(answer)
    assert data["StatusRunning"]["Value"] == 0


def test_a_node_whose_bitbucket_does_not_answer_reports_not_running(node):
    _, publish = node
    _, data = publish(status_url="http://127.0.0.1:9/status")
    assert data["StatusRunning"]["Value"] == 0


def test_the_publisher_needs_no_credentials():
    script = render_metrics_publisher(SPEC)
    assert "BITBUCKET_PASSWORD" not in script and "-u " not in script and "Authorization" not in script
    assert shutil.which("df")
