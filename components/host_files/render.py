"""Render the host files from the templates in components/templates (Jinja2, strict)."""

from __future__ import annotations

import shlex
from functools import lru_cache
from pathlib import Path

import jinja2

from .runtime import default_installer_url, supported_runtime
from .specs import (
    JMX_EXPORTER_PORT,
    JMX_EXPORTER_SHA256,
    JMX_EXPORTER_URL,
    JMX_EXPORTER_VERSION,
    METRICS_SCRIPT_PATH,
    NGINX_CERT_PATH,
    NGINX_KEY_PATH,
    STAGING_DIR,
    VENDOR_CHECKSUM_FEEDS,
    VENDOR_DOWNLOAD_HOSTS,
    InstallSpec,
    MetricsSpec,
    NginxSiteSpec,
    PropertiesSpec,
    StagedFile,
)

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


def _property_value(value: object) -> str:
    from providers.setup_properties import escape_value

    return escape_value(str(value))


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["sh"] = lambda value: shlex.quote(str(value))  # every value that reaches bash
    env.filters["prop"] = _property_value  # every value of bitbucket.properties
    return env


def render_bitbucket_properties(spec: PropertiesSpec) -> str:
    return (
        _environment()
        .get_template("bitbucket.properties.j2")
        .render(spec=spec, setup_block=spec.setup_block.strip() + "\n")
    )


def render_nginx_site(spec: NginxSiteSpec) -> str:
    return _environment().get_template("nginx-site.conf.j2").render(spec=spec)


def jmx_agent_path(install_root: str = "/opt/atlassian/bitbucket") -> str:
    return f"{install_root}/jmx/jmx_prometheus_javaagent-{JMX_EXPORTER_VERSION}.jar"


def render_systemd_unit(
    install_root: str = "/opt/atlassian/bitbucket",
    home_dir: str = "/var/atlassian/application-data/bitbucket",
    user: str = "atlbitbucket",
    jmx_exporter: bool = False,
) -> str:
    # Bitbucket's start scripts pass JVM_SUPPORT_RECOMMENDED_ARGS to the JVM.
    agent = (
        f"-javaagent:{jmx_agent_path(install_root)}={JMX_EXPORTER_PORT}:{install_root}/jmx/config.yaml"
        if jmx_exporter
        else None
    )
    return (
        _environment()
        .get_template("atlbitbucket.service.j2")
        .render(install_root=install_root, home_dir=home_dir, user=user, jvm_agent=agent)
    )


def render_install_script(spec: InstallSpec) -> str:
    runtime = supported_runtime(spec.bitbucket_version)
    return (
        _environment()
        .get_template("install.sh.j2")
        .render(
            spec=spec,
            runtime=runtime,
            staged=StagedFile,
            staging_dir=STAGING_DIR,
            installer_url=spec.installer_url or default_installer_url(spec.bitbucket_version),
            nginx_cert=NGINX_CERT_PATH,
            nginx_key=NGINX_KEY_PATH,
            checksum_feeds=VENDOR_CHECKSUM_FEEDS,
            vendor_hosts=VENDOR_DOWNLOAD_HOSTS,
            limits={"ARCHIVE": spec.archive_limits, "FEED": spec.feed_limits, "AGENT": spec.agent_limits},
            jmx={"url": JMX_EXPORTER_URL, "sha256": JMX_EXPORTER_SHA256, "jar": jmx_agent_path(spec.install_root)},
        )
    )


def render_metrics_publisher(spec: MetricsSpec) -> str:
    return _environment().get_template("publish-metrics.sh.j2").render(spec=spec)


def render_metrics_units() -> dict[str, str]:
    """The systemd service and timer that run the publisher once a minute, by file name."""
    env = _environment()
    return {
        f"bitbucket-mirror-metrics.{kind}": env.get_template(f"bitbucket-mirror-metrics.{kind}.j2").render(
            script_path=METRICS_SCRIPT_PATH
        )
        for kind in ("service", "timer")
    }
