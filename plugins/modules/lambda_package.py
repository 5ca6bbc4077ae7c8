#!/usr/bin/python
# Copyright: contributors to django_ecs.aws
# Apache License 2.0 (see galaxy.yml)
# Ansible wants DOCUMENTATION/EXAMPLES/RETURN before any import (ansible-test validate-modules).

from __future__ import annotations

DOCUMENTATION = r"""
---
module: lambda_package
short_description: Build the db_init Lambda zip, byte for byte reproducibly
version_added: 0.1.0
description:
  - Writes a zip at I(dest) holding the handler directory I(src), the collection's
    C(db_roles.py) and C(db_connect.py) module_utils (the very files this module was shipped with,
    not copies kept elsewhere) and pg8000 with its pure-Python dependencies.
  - The zip is deterministic, so M(amazon.aws.lambda), which redeploys whenever the code's hash
    changes, only redeploys real changes. Entries are sorted, dated 1980-01-01, mode 0644, deflated
    at level 9; dependency caches (C(__pycache__), C(.pyc)) and packaging metadata other than
    licences are left out.
  - Dependencies come from the distributions installed beside the Python running this module
    (the control node's venv, installed from C(requirements.txt) and C(constraints.txt)), so
    building needs no network. Each must match its pin in I(dependencies) and contain no
    compiled extension, else the module fails (Lambda could not load a binary built for another
    platform).
  - C(changed) is true only when the bytes differ from the file already at I(dest).
options:
  dest:
    description: Path of the zip to write; parent directories are created.
    type: path
    required: true
  src:
    description: Directory of the handler (the collection's C(files/lambda/db_init)).
    type: path
    required: true
  dependencies:
    description:
      - Pinned distributions (C(name==version)) to ship, with every file of their top-level
        packages. The default is pg8000 and its dependency closure, as pinned in C(constraints.txt).
    type: list
    elements: str
    default: [pg8000==1.31.6, scramp==1.5.0, asn1crypto==1.5.1, python-dateutil==2.9.0.post0,
              six==1.17.0]
  ca_bundle:
    description:
      - PEM file of the RDS certificate authorities, shipped as C(rds-ca-bundle.pem), which the
        handler uses for C(verify-full) by default.
    type: path
notes:
  - Deflate output depends on the zlib version; the same control node image yields the same bytes.
author:
  - django_ecs.aws maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Build the db_init package
  django_ecs.aws.lambda_package:
    src: "{{ playbook_dir }}/../files/lambda/db_init"
    dest: "{{ playbook_dir }}/../build/db_init.zip"
    ca_bundle: "{{ playbook_dir }}/../build/rds-global-bundle.pem"
  register: db_init_zip

- name: Deploy only when the code changed
  amazon.aws.lambda:
    name: dev-djg-db-init-ander
    zip_file: "{{ db_init_zip.dest }}"
    runtime: python3.12
    handler: handler.handler
    role: "{{ db_init_role_arn }}"
"""

RETURN = r"""
dest:
  description: Path of the zip.
  returned: always
  type: str
sha256:
  description: SHA-256 of the zip, hex.
  returned: always
  type: str
code_sha256:
  description: SHA-256 of the zip, base64, as Lambda reports it in C(CodeSha256).
  returned: always
  type: str
  sample: 3Uq0YrnbSm2ZGC2bYUvjVwJ9DyNvYDRWmhyX2KOeQ6k=
size:
  description: Size of the zip in bytes.
  returned: always
  type: int
file_count:
  description: Number of files in the zip.
  returned: always
  type: int
dependencies:
  description: Distribution name to version, as shipped.
  returned: always
  type: dict
  sample: {pg8000: 1.31.6, scramp: 1.5.0}
"""

import base64
import hashlib
import io
import os
import re
import sys
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from importlib import metadata
from pathlib import Path, PurePosixPath

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.django_ecs.aws.plugins.module_utils import db_connect, db_roles

DEFAULT_DEPENDENCIES = [
    "pg8000==1.31.6",
    "scramp==1.5.0",
    "asn1crypto==1.5.1",
    "python-dateutil==2.9.0.post0",
    "six==1.17.0",
]
ARGUMENT_SPEC = {
    "dest": {"type": "path", "required": True},
    "src": {"type": "path", "required": True},
    "dependencies": {"type": "list", "elements": "str", "default": DEFAULT_DEPENDENCIES},
    "ca_bundle": {"type": "path"},
}
SHARED_MODULES = (db_roles, db_connect)
CA_BUNDLE_NAME = "rds-ca-bundle.pem"
FIXED_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date zip can store
FILE_MODE = 0o100644  # regular file, rw-r--r--
COMPILED_SUFFIXES = (".so", ".pyd", ".dylib")
LICENCE_PATTERN = re.compile(r"^(LICEN[CS]E|COPYING|NOTICE|AUTHORS)", re.IGNORECASE)


class PackageError(Exception):
    pass


def deterministic_zip(entries: Mapping[str, bytes]) -> bytes:
    """Zip ``entries`` (archive name -> content) so equal input always yields equal bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so external_attr is read as a mode
            info.external_attr = FILE_MODE << 16
            archive.writestr(info, entries[name], compresslevel=9)
    return buffer.getvalue()


def parse_pin(pin: str) -> tuple[str, str]:
    name, separator, version = pin.partition("==")
    if not separator or not name.strip() or not version.strip():
        raise PackageError(f"dependency {pin!r} must be pinned as name==version")
    return name.strip(), version.strip()


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def keep_dependency_file(path: PurePosixPath) -> bool:
    """Ship code and licences; skip caches, scripts outside site-packages, install metadata."""
    parts = path.parts
    if not parts or ".." in parts or "__pycache__" in parts or path.suffix == ".pyc":
        return False
    if parts[0].endswith(".dist-info"):
        return bool(LICENCE_PATTERN.match(path.name))
    return True


def dependency_entries(pin: str) -> tuple[str, dict[str, bytes]]:
    """Files of the installed distribution ``pin``; fails unless its version matches."""
    name, version = parse_pin(pin)
    try:
        distribution = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        raise PackageError(f"{name} is not installed beside {sys.executable}") from None
    if distribution.version != version:
        raise PackageError(f"{name} {distribution.version} is installed, the pin is {version}")
    entries = {}
    for record in distribution.files or ():
        path = PurePosixPath(str(record))
        if not keep_dependency_file(path):
            continue
        if path.suffix in COMPILED_SUFFIXES:
            raise PackageError(f"{name} ships compiled code ({path}); Lambda needs pure Python")
        entries[str(path)] = Path(distribution.locate_file(record)).read_bytes()
    if not entries:
        raise PackageError(f"{name} lists no files (installed without a RECORD?)")
    return normalize(name), entries


def handler_entries(src: Path) -> dict[str, bytes]:
    if not (src / "handler.py").is_file():
        raise PackageError(f"{src} holds no handler.py")
    return {
        path.relative_to(src).as_posix(): path.read_bytes()
        for path in walk_files(src)
        if "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def walk_files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            yield path


def shared_module_entries() -> dict[str, bytes]:
    """The module_utils this module itself imported, as top-level modules of the package."""
    entries = {}
    for shared in SHARED_MODULES:
        source = shared.__spec__.loader.get_data(shared.__file__)
        entries[f"{shared.__name__.rsplit('.', 1)[-1]}.py"] = source
    return entries


def build(src: Path, pins: list[str], ca_bundle: Path | None) -> tuple[bytes, dict[str, str]]:
    entries = handler_entries(src)
    entries.update(shared_module_entries())
    versions = {}
    for pin in pins:
        name, files = dependency_entries(pin)
        clashes = sorted(set(files) & set(entries))
        if clashes:
            raise PackageError(f"{name} would overwrite {', '.join(clashes[:5])}")
        entries.update(files)
        versions[name] = parse_pin(pin)[1]
    if ca_bundle is not None:
        entries[CA_BUNDLE_NAME] = ca_bundle.read_bytes()
    return deterministic_zip(entries), versions


def digests(content: bytes) -> tuple[str, str]:
    digest = hashlib.sha256(content)
    return digest.hexdigest(), base64.b64encode(digest.digest()).decode()


def write_atomically(dest: Path, content: bytes) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
        os.chmod(temporary, 0o644)
        os.replace(temporary, dest)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    dest = Path(module.params["dest"])
    ca_bundle = Path(module.params["ca_bundle"]) if module.params["ca_bundle"] else None
    try:
        content, versions = build(
            Path(module.params["src"]), module.params["dependencies"], ca_bundle
        )
    except (PackageError, OSError) as error:
        module.fail_json(msg=str(error))
    changed = not dest.is_file() or dest.read_bytes() != content
    if changed and not module.check_mode:
        write_atomically(dest, content)
    sha256, code_sha256 = digests(content)
    module.exit_json(
        changed=changed,
        dest=str(dest),
        sha256=sha256,
        code_sha256=code_sha256,
        size=len(content),
        file_count=len(zipfile.ZipFile(io.BytesIO(content)).namelist()),
        dependencies=versions,
    )


if __name__ == "__main__":
    main()
