# Copyright: contributors to django_ecs.aws
# Apache License 2.0 (see galaxy.yml)
"""django_ecs.aws.network_lookup in the controller's worker process, without a module process.

The module's own read (plugins/modules/network_lookup.py, its documentation too), run by
plugins/plugin_utils/in_process.py where the module would run on the controller anyway; elsewhere
the module runs as usual.
"""

from __future__ import annotations

from ansible_collections.django_ecs.aws.plugins.modules.network_lookup import ARGUMENT_SPEC, run
from ansible_collections.django_ecs.aws.plugins.plugin_utils.in_process import InProcessReadAction


class ActionModule(InProcessReadAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC
    RUN = staticmethod(run)
