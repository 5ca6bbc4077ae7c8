"""Fetch the RDS CA bundle at image build time, refusing anything but the pinned bytes.

The bundle is what ``sslmode=verify-full`` trusts for the database: a swapped file would
let anyone with a certificate from that CA impersonate the database, so the build fails
unless the download matches the sha256 given by the pipeline.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import ssl
import sys
import tempfile
import urllib.request
from pathlib import Path

OFFICIAL_URL = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")


class BundleError(Exception):
    pass


def fetch(url: str, timeout: float = 60.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return bytes(response.read())


def check_pin(expected_sha256: str) -> str:
    pin = expected_sha256.strip().lower()
    if not SHA256_PATTERN.fullmatch(pin):
        raise BundleError(
            "RDS_CA_BUNDLE_SHA256 must be the 64-hex sha256 of the reviewed bundle "
            "(see app/README.md: 'The RDS CA bundle')"
        )
    return pin


def verify(data: bytes, pin: str) -> int:
    """Check the digest, then that the bytes load as CA certificates; return their count."""
    actual = hashlib.sha256(data).hexdigest()
    if actual != pin:
        raise BundleError(f"RDS CA bundle sha256 mismatch: expected {pin}, got {actual}")
    with tempfile.NamedTemporaryFile(suffix=".pem") as pem:
        pem.write(data)
        pem.flush()
        context = ssl.create_default_context(cafile=pem.name)
    count = context.cert_store_stats()["x509_ca"]
    if count < 1:
        raise BundleError("the RDS CA bundle holds no CA certificate")
    return int(count)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default=OFFICIAL_URL)
    parser.add_argument("--sha256", required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        pin = check_pin(args.sha256)
        data = fetch(args.url)
        count = verify(data, pin)
    except (BundleError, OSError, ssl.SSLError) as exc:
        print(f"fetch_rds_ca: {exc}", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    print(f"fetch_rds_ca: {count} CA certificates, sha256 {pin}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
