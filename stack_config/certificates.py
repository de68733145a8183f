"""PEM certificates read as certificates at preview (primary.caBundle, mirrors[].tls.certificate).

Markers alone prove nothing: a bundle of BEGIN/END lines around a placeholder passes a text check
and then fails every provider call, nginx's start or the JVM's import after AWS resources exist.
Each block is parsed with `cryptography`; messages never quote the text (a private key pasted into
the wrong key must not reach the logs).
"""

from __future__ import annotations

import re

from cryptography import x509
from cryptography.x509.oid import NameOID

_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END ([A-Z0-9 ]+)-----", re.S)
_EXPECTED = "PEM certificate text (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----)"


def pem_certificates(value: str, what: str) -> list[x509.Certificate]:
    """Every block of `value`, parsed; ValueError saying what to write otherwise.

    `what` names the certificates in messages ("CA certificates", "the certificate chain").
    """
    blocks = list(_BLOCK.finditer(value))
    if value.count("-----BEGIN ") > len(blocks):
        raise ValueError(
            f"expected {_EXPECTED}: a -----BEGIN line has no -----END line after it (truncated when pasted?)"
        )
    if not blocks:
        raise ValueError(f"expected {_EXPECTED} of {what}; the value is not shown")
    certificates = []
    for n, block in enumerate(blocks, start=1):
        label, end_label = block.group(1), block.group(3)
        where = f"block {n} of {len(blocks)}"
        if label != end_label:
            raise ValueError(f"expected {_EXPECTED}: {where} begins as {label} and ends as {end_label}")
        if "PRIVATE KEY" in label:
            raise ValueError(
                f"holds a private key ({where}); the value is not shown. Expected only {what}: a "
                "private key is set as a secret in its own key (tls.privateKey), never here"
            )
        if label != "CERTIFICATE":
            raise ValueError(f"expected only CERTIFICATE blocks of {what}, {where} is a {label}")
        if not block.group(2).strip():
            raise ValueError(
                f"{where} has nothing between its BEGIN and END lines: paste {what} as your CA or issuer gives them"
            )
        try:
            certificates.append(x509.load_pem_x509_certificate(block.group(0).encode("ascii")))
        except (ValueError, UnicodeEncodeError) as exc:
            reason = str(exc).split(" See https://")[0]
            raise ValueError(
                f"{where} is not a readable X.509 certificate (a placeholder, or edited or truncated "
                f"text?): paste {what} as your CA or issuer gives them; cryptography says: {reason}"
            ) from None
    return certificates


def names_of(certificate: x509.Certificate) -> list[str]:
    """The DNS names a TLS client accepts the certificate for: its subjectAltName DNS entries, or
    (only without that extension, as curl and OpenSSL do) its common name."""
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        return [name.lower() for name in san.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        pass
    return [str(a.value).lower() for a in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]


def covers(name: str, host: str) -> bool:
    """Whether certificate name `name` matches `host` (RFC 6125: a '*' stands for one whole left-most label)."""
    host = host.lower()
    if name == host:
        return True
    if name.startswith("*.") and "*" not in name[2:]:
        first, _, rest = host.partition(".")
        return bool(first) and rest == name[2:]
    return False
