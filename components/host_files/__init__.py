"""The files a mirror node receives: install script, bitbucket.properties, systemd unit, nginx site."""

from .render import (
    render_bitbucket_properties,
    render_install_script,
    render_metrics_publisher,
    render_metrics_units,
    render_nginx_site,
    render_systemd_unit,
)
from .runtime import RuntimeRequirements, UnsupportedVersion, default_installer_url, supported_runtime
from .specs import (
    HOME_DIR,
    METRICS_NAMESPACE,
    METRICS_SCRIPT_PATH,
    METRICS_UNIT,
    NGINX_CERT_PATH,
    NGINX_KEY_PATH,
    STAGING_DIR,
    FarmSpec,
    InstallSpec,
    MetricsSpec,
    NginxSiteSpec,
    PropertiesSpec,
    StagedFile,
)

__all__ = [
    "HOME_DIR",
    "STAGING_DIR",
    "NGINX_CERT_PATH",
    "NGINX_KEY_PATH",
    "StagedFile",
    "PropertiesSpec",
    "FarmSpec",
    "render_bitbucket_properties",
    "NginxSiteSpec",
    "render_nginx_site",
    "InstallSpec",
    "render_install_script",
    "render_systemd_unit",
    "supported_runtime",
    "default_installer_url",
    "RuntimeRequirements",
    "UnsupportedVersion",
    "MetricsSpec",
    "render_metrics_publisher",
    "render_metrics_units",
    "METRICS_NAMESPACE",
    "METRICS_SCRIPT_PATH",
    "METRICS_UNIT",
]
