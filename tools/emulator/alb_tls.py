"""TLS of the emulator's HTTPS listeners: ACM certificates (key included) as server contexts.

The listener's default certificate answers every client; a certificate added with
AddListenerCertificates answers the clients whose SNI name it covers, as ALB selects them (ELB
User Guide, "SSL certificates for your Application Load Balancer": a matching certificate from
the list, else the default one). The minimum TLS version follows the listener's SslPolicy:
TLS 1.3 for the `TLS13-1-3` policies, TLS 1.2 otherwise (this Python's OpenSSL refuses 1.0 and 1.1
at its default security level, which AWS's older policies still allow).
"""

from __future__ import annotations

import ssl
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.x509.oid import NameOID

if TYPE_CHECKING:
    from moto.elbv2.models import ELBv2Backend, FakeListener


def minimum_version(ssl_policy: str | None) -> ssl.TLSVersion:
    if ssl_policy and "TLS13-1-3" in ssl_policy:
        return ssl.TLSVersion.TLSv1_3
    return ssl.TLSVersion.TLSv1_2


def names_of(certificate_pem: bytes) -> list[str]:
    """The DNS names a certificate covers (SAN, else its common name), lower case."""
    certificate = x509.load_pem_x509_certificate(certificate_pem)
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names = san.value.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        common = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        names = [str(attribute.value) for attribute in common]
    return [name.lower() for name in names]


def covers(pattern: str, server_name: str) -> bool:
    """Certificate name matching: exact, or a `*.` wildcard for exactly one leftmost label."""
    server_name = server_name.lower()
    if pattern.startswith("*."):
        head, _, rest = server_name.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == server_name


class ListenerTls:
    """The server contexts of one listener, loaded from moto's ACM backend on first use."""

    def __init__(self, backend: ELBv2Backend, listener: FakeListener) -> None:
        self._backend = backend
        self._listener = listener
        self._contexts: dict[str, tuple[ssl.SSLContext, list[str]]] = {}
        self._lock = threading.Lock()
        self.context = self._load(str(listener.certificate))[0]
        self.context.sni_callback = self._choose

    def _load(self, arn: str) -> tuple[ssl.SSLContext, list[str]]:
        with self._lock:
            if arn not in self._contexts:
                self._contexts[arn] = self._context_of(arn)
            return self._contexts[arn]

    def _context_of(self, arn: str) -> tuple[ssl.SSLContext, list[str]]:
        from moto.acm.models import AWS_ROOT_CA, acm_backends

        acm = acm_backends[self._backend.account_id][self._backend.region_name]
        bundle = acm.get_certificate(arn)
        # moto appends a made-up AWS root to every chain; serve what was imported.
        chain = bundle.chain.replace(AWS_ROOT_CA, b"").strip()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = minimum_version(self._listener.ssl_policy)
        with tempfile.TemporaryDirectory(prefix="alb-tls-") as scratch:
            cert_file, key_file = Path(scratch, "cert.pem"), Path(scratch, "key.pem")
            cert_file.write_bytes(bundle.cert.strip() + b"\n" + (chain + b"\n" if chain else b""))
            key_file.touch(mode=0o600)  # the key never lies readable by others, even briefly
            key_file.write_bytes(bundle.key)
            context.load_cert_chain(cert_file, key_file)
        return context, names_of(bundle.cert)

    def _choose(self, connection: ssl.SSLObject, server_name: str | None, _: object) -> None:
        if not server_name:
            return
        for arn in list(self._listener.certificates)[1:]:  # [0] is the default certificate
            try:
                context, names = self._load(arn)
            except Exception:  # a certificate that cannot load is skipped, as if absent
                continue
            if any(covers(name, server_name) for name in names):
                connection.context = context
                return
