# Copyright: contributors to django_ecs.aws
# Apache License 2.0 (see galaxy.yml)
from __future__ import annotations

DOCUMENTATION = r"""
name: converged
short_description: Whether a role part may be skipped, and why not
version_added: 0.1.0
description:
  - Used as the first task of a role part, inside the role, where every variable of its argument
    spec has the value the role would use. Fingerprints each of them and the collection's code,
    and compares both and the live state read by M(django_ecs.aws.converged_state) with the part's
    stamp.
  - Returns C(in_sync) (the part may be skipped), C(reasons) (why it must run, for the plan),
    C(code) and C(inputs) (for M(django_ecs.aws.converged_record)) and C(outputs) (the facts the part
    published when it was recorded).
  - Only digests of the inputs leave the controller; values are never stored.
options:
  _terms:
    description: The role part, e.g. C(ecs_service) or C(rds_available).
    required: true
  role:
    description: The role whose C(meta/argument_specs.yml) lists the inputs; defaults to the part.
    type: str
  entry_point:
    description: The argument spec entry point listing the part's inputs.
    type: str
    default: main
  state:
    description: The registered result of M(django_ecs.aws.converged_state) (empty when it did not run).
    type: dict
    default: {}
  paths:
    description:
      - Files or directories whose contents are inputs too, e.g. the image's build context (a
        changed source must rebuild even when no variable changed).
    type: list
    elements: str
    default: []
  fast_path:
    description: False to run every part in full (C(fast_path=false)); reasons are still reported.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Compare with what this role last converged
  ansible.builtin.set_fact:
    _ecs_cluster_converged: >-
      {{ lookup('django_ecs.aws.converged', 'ecs_cluster', state=ecs_cluster_converged_state,
                fast_path=ecs_cluster_fast_path) }}
"""

RETURN = r"""
_raw:
  description: C({in_sync, reasons, code, inputs, outputs}).
  type: dict
"""

import json
import re
from pathlib import Path
from typing import Any

import yaml
from ansible.errors import AnsibleError, AnsibleUndefinedVariable
from ansible.module_utils.ansible_release import __version__ as ansible_core_version
from ansible.plugins.lookup import LookupBase
from ansible_collections.django_ecs.aws.plugins.module_utils.converged import (
    fingerprint,
    role_reasons,
)

COLLECTION_ROOT = Path(__file__).resolve().parents[2]
# What decides the calls a role makes: every role (roles import each other), the plugins, the
# layer playbooks, the collection's files (the db_init function's code), plus the versions of the collections whose modules they call.
CODE_DIRECTORIES = ("roles", "plugins", "playbooks", "files")
DEPENDENCIES = ("amazon.aws", "community.aws")
UNDEFINED = "<undefined>"
# A part's own fast-path settings say where and whether to look, not what AWS receives.
NOT_INPUTS = ("_converged_state", "_converged_path", "_fast_path")


def _dependency_version(name: str) -> str:
    namespace, collection = name.split(".")
    try:
        package = __import__(f"ansible_collections.{namespace}.{collection}", fromlist=["_"])
        manifest = Path(next(iter(package.__path__))) / "MANIFEST.json"
        return json.loads(manifest.read_text())["collection_info"]["version"]
    except (ImportError, OSError, KeyError, ValueError, StopIteration):
        return "unknown"


def code_fingerprint(root: Path = COLLECTION_ROOT) -> str:
    digests = []
    for directory in CODE_DIRECTORIES:
        for path in sorted((root / directory).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digests.append((str(path.relative_to(root)), fingerprint(path.read_bytes().hex())))
    versions = {name: _dependency_version(name) for name in DEPENDENCIES}
    return fingerprint(
        {"files": digests, "versions": versions, "ansible-core": ansible_core_version}
    )


def tree_fingerprint(path: Path) -> str:
    """The contents of a file, or of every file under a directory (a missing path counts too)."""
    if path.is_file():
        return fingerprint(path.read_bytes().hex())
    files = sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return fingerprint(
        [(str(p.relative_to(path)), fingerprint(p.read_bytes().hex())) for p in files]
    )


def input_names(role: str, entry_point: str, root: Path = COLLECTION_ROOT) -> list[str]:
    specs = yaml.safe_load((root / "roles" / role / "meta" / "argument_specs.yml").read_text())
    try:
        options = specs["argument_specs"][entry_point]["options"]
    except KeyError as error:
        raise AnsibleError(
            f"converged: role {role} has no argument spec entry point {entry_point}"
        ) from error
    return sorted(name for name in options if not name.endswith(NOT_INPUTS))


_NAME = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]*\b")
# Names the role's files may mention that are Ansible's own, change on every run, or only say
# which checks already ran (_site_preflight_done, _site_inputs_checked).
_NOT_GLOBALS = {"hostvars", "vars", "groups", "group_names", "inventory_hostname", "item", "omit"}
_NOT_GLOBAL_PREFIXES = ("ansible_", "converged_", "playbook_", "role_", "inventory_", "_site_")


_ROLE_REFERENCE = re.compile(r"name:\s*django_ecs\.aws\.([a-z_]+)")
_ASSIGNING = re.compile(r"^(\s*)(?:- )?(?:ansible\.builtin\.set_fact|set_fact|vars):\s*$")
_KEY = re.compile(r"^(\s*)([A-Za-z_][A-Za-z0-9_]*):")


def assigned_names(text: str) -> set[str]:
    """The keys of every set_fact and vars block: names a task sets, not globals it reads."""
    names, block_indent = set(), None
    for line in text.splitlines():
        if block_indent is not None:
            key = _KEY.match(line)
            indent = len(line) - len(line.lstrip())
            if line.strip() and indent <= block_indent:
                block_indent = None
            elif key and len(key.group(1)) == block_indent + 2:
                names.add(key.group(2))
        opening = _ASSIGNING.match(line)
        if opening:
            block_indent = len(opening.group(1))
    return names


def _role_files(role: str, root: Path) -> list[Path]:
    return [
        path
        for path in (root / "roles" / role).rglob("*")
        if path.is_file() and path.suffix in {".yml", ".yaml", ".j2", ".json"}
    ]


def facts_set_by(role: str, root: Path = COLLECTION_ROOT, seen: set[str] | None = None) -> set[str]:
    """The facts and task vars a role (or a role it imports, e.g. network_lookup) sets itself.

    They are reads of this run, not inputs: at the comparison they may or may not be set yet,
    depending on what ran before (a skipped nat role, --tags). What they read is compared as live
    state instead (the ``network`` resource of a record).
    """
    seen = seen if seen is not None else set()
    if role in seen or not (root / "roles" / role).is_dir():
        return set()
    seen.add(role)
    facts: set[str] = set()
    for path in _role_files(role, root):
        text = path.read_text(errors="replace")
        facts |= assigned_names(text)
        for imported in _ROLE_REFERENCE.findall(text):
            facts |= facts_set_by(imported, root, seen)
    return facts


def referenced_names(role: str, root: Path = COLLECTION_ROOT) -> set[str]:
    """Every name the role's files mention that belongs to no role: candidates for globals.

    A role should read only its own variables, but some read another layer's lookup facts
    directly (e.g. network_lookup_private_subnets). Those are inputs too: a new subnet list must
    make the role run even when its own resources did not change. Over-including (a word of a task
    name that happens to be a variable) only adds a stable input. Facts the role sets itself (or
    through a role it imports) are not inputs (``facts_set_by``).
    """
    prefixes = (f"{role}_", f"_{role}_")
    names = set()
    for path in _role_files(role, root):
        names.update(_NAME.findall(path.read_text(errors="replace")))
    return {
        name
        for name in names - facts_set_by(role, root)
        if not name.startswith(prefixes)
        and name not in _NOT_GLOBALS
        and not name.startswith(_NOT_GLOBAL_PREFIXES)
        and name != "fast_path"
    }


class LookupModule(LookupBase):
    def run(
        self, terms: list[str], variables: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[dict]:
        self.set_options(var_options=variables, direct=kwargs)
        variables = variables or {}
        part = terms[0]
        role = self.get_option("role") or part
        own = input_names(role, self.get_option("entry_point"))
        globals_read = sorted(referenced_names(role) & set(variables) - set(own))
        inputs = {name: fingerprint(self._value(variables, name)) for name in own + globals_read}
        for path in self.get_option("paths"):
            inputs[f"contents of {path}"] = tree_fingerprint(Path(path))
        code = code_fingerprint()
        state = (self.get_option("state") or {}).get("parts", {}).get(part) or {}
        stamp = state if state.get("recorded") else None
        live_drift = state.get("live_drift", [])
        reasons = role_reasons(stamp, code, inputs, live_drift)
        fast_path = bool(self.get_option("fast_path"))
        return [
            {
                "in_sync": fast_path and not reasons,
                "reasons": reasons if fast_path else ["fast path off", *reasons],
                "recorded": stamp is not None,
                "code_changed": stamp is not None and stamp.get("code") != code,
                "changed_inputs": sorted(
                    name
                    for name in inputs
                    if stamp is not None and stamp.get("inputs", {}).get(name) != inputs[name]
                ),
                "live_drift": live_drift,
                "code": code,
                "inputs": inputs,
                "outputs": state.get("outputs", {}),
            }
        ]

    def _value(self, variables: dict[str, Any], name: str) -> Any:
        if name not in variables:
            return UNDEFINED
        try:
            return self._templar.template(variables[name])
        except AnsibleUndefinedVariable:
            return UNDEFINED
