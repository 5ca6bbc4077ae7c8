# Copyright: contributors to django_ecs.aws
# Apache License 2.0 (see galaxy.yml)
# Documentation only: the action plugin of the same name (plugins/action/layer_outputs_file.py)
# does the work in the controller process, as ansible.builtin.debug's module file does for its own.

from __future__ import annotations

DOCUMENTATION = r"""
module: layer_outputs_file
short_description: Write a layer's outputs as JSON on the control node
version_added: 0.1.0
description:
  - Writes O(values) as sorted, indented JSON to O(path), creating the directory. Changes the
    file only when its content differs; check mode and diff mode supported.
  - Runs in the controller process (an action plugin); never put secrets in O(values).
options:
  path:
    description: The file to write.
    type: path
    required: true
  values:
    description: The outputs.
    type: dict
    required: true
author:
  - django_ecs.aws maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Write the network layer's outputs next to the playbook's configuration
  django_ecs.aws.layer_outputs_file:
    path: "{{ outputs_dir }}/network.json"
    values:
      vpc_id: "{{ vpc_id }}"
      private_subnet_ids: "{{ private_subnet_ids }}"
"""

RETURN = r"""
path:
  description: The file written (or, in check mode, that would be written).
  returned: always
  type: str
  sample: /srv/deploy/outputs/dev/network.json
"""
