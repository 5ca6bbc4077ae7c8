"""The emulator's certificate authority: TLS for the PostgreSQL servers behind RDS endpoints.

RDS servers present a certificate signed by an RDS CA whose bundle clients download from AWS
(`global-bundle.pem`) to verify the server (sslmode=verify-full). The emulator makes its own CA at
start, signs one server certificate for the loopback address with it, and hands the CA bundle to
clients the same way: a PEM file (`ca.pem` in the emulator's state directory).
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=30)  # an emulator lives for a session, not a year


@dataclass(frozen=True)
class TlsFiles:
    """Where the CA bundle and the servers' certificate and key are."""

    ca_bundle: Path
    server_certificate: Path
    server_key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "django_ecs.aws emulator"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key_usage(certificate_signing: bool) -> x509.KeyUsage:
    # Python 3.13 verifies strictly (VERIFY_X509_STRICT): key usages and key identifiers required.
    return x509.KeyUsage(
        digital_signature=not certificate_signing,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=certificate_signing,
        crl_sign=certificate_signing,
        encipher_only=False,
        decipher_only=False,
    )


def _certificate(
    subject: str,
    public_key: ec.EllipticCurvePublicKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey],
    extensions: list[tuple[x509.ExtensionType, bool]],
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer[0])
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(issuer[1], hashes.SHA256())


def make_certificates(directory: Path) -> TlsFiles:
    """A fresh CA and a server certificate for 127.0.0.1 / localhost signed by it."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("django_ecs.aws emulator RDS CA")
    ca = _certificate(
        "django_ecs.aws emulator RDS CA",
        ca_key.public_key(),
        (ca_name, ca_key),
        [
            (x509.BasicConstraints(ca=True, path_length=0), True),
            (_key_usage(certificate_signing=True), True),
            (x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False),
        ],
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    alternative_names = x509.SubjectAlternativeName(
        [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    )
    server = _certificate(
        "127.0.0.1",
        server_key.public_key(),
        (ca_name, ca_key),
        [
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (_key_usage(certificate_signing=False), True),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
            (alternative_names, False),
            (x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False),
        ],
    )
    files = TlsFiles(directory / "ca.pem", directory / "server.crt", directory / "server.key")
    files.ca_bundle.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.server_certificate.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    key_bytes = server_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    files.server_key.touch(mode=0o600)
    files.server_key.chmod(0o600)  # PostgreSQL refuses a key others can read
    files.server_key.write_bytes(key_bytes)
    return files
