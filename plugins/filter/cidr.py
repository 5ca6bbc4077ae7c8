"""Deterministic subnet carving for the VPC role.

Layout (stable when AZs are appended, so adding an AZ never renumbers an existing subnet):
  private subnet i  = the i-th /private_prefix block of the VPC
  public subnet i   = the i-th /public_prefix block inside the VPC's LAST /private_prefix block
With the defaults (/16, /22 private, /26 public) that is 63 possible AZs' worth of private space
and 16 public subnets; the filter refuses a VPC too small for the requested AZs.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: carve_subnets
version_added: 0.1.0
short_description: Carve one public and one private subnet per AZ from a VPC CIDR
description:
  - Private subnet I(i) is the I(i)-th C(/private_prefix) block of the VPC; public subnet I(i) is the
    I(i)-th C(/public_prefix) block of the VPC's last C(/private_prefix) block.
  - Fails with a message naming C(vpc_cidr) when the CIDR is invalid or too small.
positional: azs, public_prefix, private_prefix
options:
  _input:
    description: The VPC CIDR, e.g. C(10.10.0.0/16).
    type: str
    required: true
  azs:
    description: Availability zones, in order.
    type: list
    elements: str
    required: true
  public_prefix:
    description: Prefix length of the public subnets.
    type: int
    default: 26
  private_prefix:
    description: Prefix length of the private subnets.
    type: int
    default: 22
"""

EXAMPLES = r"""
- name: Carve subnets
  ansible.builtin.set_fact:
    subnets: "{{ '10.10.0.0/16' | django_ecs.aws.carve_subnets(['us-east-1a', 'us-east-1b']) }}"
"""

RETURN = r"""
_value:
  description: One item per AZ and tier with C(az), C(tier) (C(public) or C(private)), C(cidr), C(index).
  type: list
  elements: dict
"""

# AWS accepts VPC CIDR blocks from /16 to /28.
_VPC_PREFIX_RANGE = range(16, 29)


def parse_vpc_cidr(vpc_cidr: Any) -> ipaddress.IPv4Network:
    """Return the VPC network or raise naming ``vpc_cidr`` and the expected form."""
    try:
        network = ipaddress.ip_network(str(vpc_cidr), strict=True)
    except ValueError as error:
        raise AnsibleFilterError(
            f"vpc_cidr must be an IPv4 network address in CIDR form such as 10.10.0.0/16, "
            f"got {vpc_cidr!r} ({error})"
        ) from error
    if not isinstance(network, ipaddress.IPv4Network):
        raise AnsibleFilterError(f"vpc_cidr must be IPv4 (e.g. 10.10.0.0/16), got {vpc_cidr!r}")
    if network.prefixlen not in _VPC_PREFIX_RANGE:
        raise AnsibleFilterError(
            f"vpc_cidr prefix must be between /16 and /28 (AWS limit), got /{network.prefixlen}"
        )
    return network


def _check_prefixes(public_prefix: int, private_prefix: int) -> None:
    if not 16 <= private_prefix <= public_prefix <= 28:
        raise AnsibleFilterError(
            "subnet prefixes must satisfy 16 <= vpc_private_subnet_prefix <= "
            f"vpc_public_subnet_prefix <= 28, got /{private_prefix} and /{public_prefix}"
        )


def carve_subnets(
    vpc_cidr: str,
    azs: list[str],
    public_prefix: int = 26,
    private_prefix: int = 22,
) -> list[dict[str, Any]]:
    """Return the public and private subnet of each AZ (see module docstring for the layout)."""
    network = parse_vpc_cidr(vpc_cidr)
    public_prefix, private_prefix = int(public_prefix), int(private_prefix)
    _check_prefixes(public_prefix, private_prefix)
    private_blocks = (
        list(network.subnets(new_prefix=private_prefix))
        if network.prefixlen <= private_prefix
        else []
    )
    # The last private-sized block is reserved for the public subnets.
    needed_blocks = len(azs) + 1
    if len(private_blocks) < needed_blocks:
        shortest = private_prefix - (needed_blocks - 1).bit_length()
        raise AnsibleFilterError(
            f"vpc_cidr {network} cannot hold {len(azs)} private /{private_prefix} subnets plus one "
            f"/{private_prefix} block for the public subnets; use a prefix of /{shortest} or "
            "shorter, or smaller subnet prefixes"
        )
    public_blocks = list(private_blocks[-1].subnets(new_prefix=public_prefix))
    if len(public_blocks) < len(azs):
        raise AnsibleFilterError(
            f"vpc_cidr {network}: the public block {private_blocks[-1]} holds only "
            f"{len(public_blocks)} /{public_prefix} subnets for {len(azs)} AZs"
        )
    carved: list[dict[str, Any]] = []
    for index, az in enumerate(azs):
        carved.append(
            {"az": az, "tier": "public", "cidr": str(public_blocks[index]), "index": index}
        )
        carved.append(
            {"az": az, "tier": "private", "cidr": str(private_blocks[index]), "index": index}
        )
    return carved


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"carve_subnets": carve_subnets}
