"""moto server (5.2.5) with the emulator's corrections of its known deviations from AWS.

Run by the launcher as `python -m tools.emulator.moto_patched --port <port>` (always bound to
127.0.0.1). Each `patch_*` function restores one AWS behaviour our Ansible modules rely on; each
is pinned by a test in tests/emulator/test_deviations.py that fails on plain moto. The patches
change what the emulator answers, never what the collection sends to AWS.

moto imports a service's code on the first request to that service; the patches wait for the
same moment (an import hook), which keeps the server's start-up at moto's own speed.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import re
import secrets
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

from tools.emulator import (
    alb_dataplane,
    alb_health,
    ecr_blobs,
    ecs_runtime,
    ecs_services,
    iam_db_auth,
    lambda_runtime,
    rds_engine_defaults,
    rds_postgres,
    rds_servers,
    timing,
)

if TYPE_CHECKING:
    from moto.awslambda.models import LambdaFunction
    from moto.ec2.models.instances import Instance
    from moto.ecr.models import ECRBackend
    from moto.ecs.models import Cluster
    from moto.ecs.responses import EC2ContainerServiceResponse
    from moto.elbv2.models import ELBv2Backend, FakeHealthStatus, FakeListener, FakeTargetGroup
    from moto.rds.models import DBInstance, DBParameterGroup, RDSBackend
    from moto.rds.responses import RDSResponse

LOOPBACK = "127.0.0.1"


def _wrap(owner: Any, name: str, wrapper: Callable[..., Any]) -> None:
    """Replace owner.name by wrapper(original, ...), keeping the original's metadata."""
    original = getattr(owner, name)

    @functools.wraps(original)
    def patched(*args: Any, **kwargs: Any) -> Any:
        return wrapper(original, *args, **kwargs)

    setattr(owner, name, patched)


# 1. IAM ---------------------------------------------------------------------------------------
def patch_iam_managed_policies() -> None:
    # AWS: every account sees the AWS managed policies (arn:aws:iam::aws:policy/...); moto
    # loads them only with this flag. The launcher sets it too; this covers direct runs.
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")


# 2. Lambda ------------------------------------------------------------------------------------
def patch_lambda_without_docker() -> None:
    # AWS: Invoke runs the function and answers 200. moto tries to start a Docker container
    # (there is no Docker engine here) unless its docker-free backend is chosen; the launcher
    # also POSTs {"lambda": {"use_docker": false}} to /moto-api/config at start.
    from moto.core.config import default_user_config

    default_user_config["lambda"] = {"use_docker": False}


# 2b. Lambda handlers run ----------------------------------------------------------------------
def patch_lambda_runs_handler() -> None:
    """AWS: Invoke runs the function's handler and answers what it returned, or its error with
    X-Amz-Function-Error: Unhandled, LogType=Tail adding the log's last 4 KB; DryRun answers 204
    without running it, Event 202 and runs it in the background. moto's docker-free backend
    (patch 2) answers the request payload back. Here the handler runs in a Python process of its
    own (lambda_runtime.py) with the execution role's credentials from moto's STS; its log goes
    to the function's CloudWatch Logs group."""
    import threading

    from moto.awslambda.exceptions import LambdaClientError
    from moto.awslambda_simple.models import LambdaSimpleBackend

    def invoke(
        original: Callable[..., Any],
        backend: LambdaSimpleBackend,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: dict[str, str],
    ) -> Any:
        function = backend.get_function(function_name, qualifier)
        if backend.lambda_simple_results_queue or function.package_type != "Zip":
            # moto's queued canned answers keep working; an image function has no zip to run.
            return original(backend, function_name, qualifier, body, headers, response_headers)
        try:
            event = lambda_runtime.event_payload(body)
        except ValueError as error:
            message = f"Could not parse request body into json: {error}"
            raise LambdaClientError("InvalidRequestContentException", message) from None
        invocation_type = headers.get("X-Amz-Invocation-Type") or "RequestResponse"
        if invocation_type == "DryRun":
            return b""
        endpoint_url = _lambda_endpoint_url(headers)
        run = functools.partial(_run_lambda, function, qualifier, event, endpoint_url)
        if invocation_type == "Event":
            name = f"lambda-{function.function_name}"
            threading.Thread(target=run, name=name, daemon=True).start()
            return b""
        invocation = run()
        if invocation.function_error:
            response_headers["x-amz-function-error"] = invocation.function_error
        response_headers["x-amz-log-result"] = invocation.log_result
        response_headers["x-amz-executed-version"] = str(function.version)
        return invocation.payload

    _wrap(LambdaSimpleBackend, "invoke", invoke)


def _lambda_endpoint_url(headers: Any) -> str:
    """The handler calls the emulator back on loopback, on the port this request came in on."""
    port = str(headers.get("Host") or "").rpartition(":")[2]
    if not port.isdigit():  # moto's own calls (SQS event sources) come without headers
        from moto import settings  # its server records its port there at start

        port = str(settings.moto_server_port())
    return f"http://{LOOPBACK}:{port}"


def _run_lambda(
    function: LambdaFunction, qualifier: str | None, event: bytes, endpoint_url: str
) -> lambda_runtime.Invocation:
    from moto.awslambda.utils import make_function_arn

    arn = make_function_arn(function.region, function.account_id, function.function_name)
    spec = lambda_runtime.Function(
        name=function.function_name,
        version=str(function.version),
        invoked_arn=f"{arn}:{qualifier}" if qualifier else arn,
        handler=function.handler or "",
        runtime=function.run_time or "",
        region=function.region,
        memory_mb=int(function.memory_size),
        timeout_seconds=int(function.timeout),
        log_group=function.logs_group_name,
        variables=dict(function.environment_vars or {}),
        zip_bytes=function.code_bytes,
    )
    invocation = lambda_runtime.invoke(spec, event, endpoint_url, _execution_role(function))
    _save_lambda_log(function, invocation)
    return invocation


def _execution_role(function: LambdaFunction) -> lambda_runtime.Credentials:
    # Lambda hands the function its role's temporary credentials; moto's STS issues the same
    # kind, so the handler's calls are the role's (GetCallerIdentity: assumed-role/<role>/<fn>).
    from moto.sts.models import sts_backends
    from moto.utilities.utils import get_partition

    sts = sts_backends[function.account_id][get_partition(function.region)]
    role = sts.assume_role(
        region_name=function.region,
        role_session_name=function.function_name,
        role_arn=function.role,
        policy=None,
        duration=3600,
        external_id=None,
    )
    return lambda_runtime.Credentials(
        role.access_key_id, role.secret_access_key, role.session_token
    )


def _save_lambda_log(function: LambdaFunction, invocation: lambda_runtime.Invocation) -> None:
    from moto.core.utils import unix_time_millis

    logs, group = function.logs_backend, function.logs_group_name
    logs.ensure_log_group(group)
    logs.create_log_stream(group, invocation.log_stream)
    now = int(unix_time_millis())
    lines = lambda_runtime.log_events(invocation.log)
    events = [{"timestamp": now, "message": line} for line in lines]
    logs.put_log_events(group, invocation.log_stream, events)


# 3. RDS parameter groups ----------------------------------------------------------------------
def patch_rds_parameter_group_not_found() -> None:
    # AWS: DescribeDBParameterGroups with an unknown name fails with DBParameterGroupNotFound
    # (names are case-insensitive; `default.<family>` groups always exist); moto returns [].
    from moto.rds.exceptions import DBParameterGroupNotFoundError
    from moto.rds.models import RDSBackend

    def describe(original: Callable[..., Any], backend: RDSBackend, kwargs: Any) -> Any:
        name = (kwargs.get("db_parameter_group_name") or "").lower()
        if not name:
            return original(backend, kwargs)
        _ensure_default_group(backend, name)
        group = backend.db_parameter_groups.get(name)
        if group is None:
            raise DBParameterGroupNotFoundError(name)
        return [group]

    _wrap(RDSBackend, "describe_db_parameter_groups", describe)


def _ensure_default_group(backend: RDSBackend, name: str) -> None:
    family = name.removeprefix("default.")
    if family == name or not rds_engine_defaults.is_known_family(family):
        return
    existing = backend.db_parameter_groups.get(name)
    if existing is not None and not existing.parameters:
        # moto makes default groups lazily for DB instances, without parameters.
        existing.parameters.update(rds_engine_defaults.engine_default_parameters(family))
    elif existing is None:
        backend.create_db_parameter_group(
            {
                "db_parameter_group_name": name,
                "db_parameter_group_family": family,
                "description": f"Default parameter group for {family}",
            }
        )


def patch_rds_engine_default_parameters() -> None:
    # AWS: a new DB parameter group lists its family's parameters (Source engine-default, with
    # ApplyType, DataType, AllowedValues, IsModifiable), and a modified one turns Source to
    # "user". moto starts groups empty.
    from moto.rds.models import DBParameterGroup, RDSBackend

    def create(original: Callable[..., Any], backend: RDSBackend, kwargs: Any) -> Any:
        group = original(backend, kwargs)
        group.parameters.update(rds_engine_defaults.engine_default_parameters(group.family))
        return group

    def update(original: Callable[..., Any], group: DBParameterGroup, new: Any) -> None:
        user_set = [{**parameter, "Source": "user"} for parameter in new]
        original(group, user_set)

    _wrap(RDSBackend, "create_db_parameter_group", create)
    _wrap(DBParameterGroup, "update_parameters", update)


def patch_rds_parameter_source_filter() -> None:
    # AWS: DescribeDBParameters Source=user lists only the parameters set by the user (how
    # rds_instance_param_group's callers read back what they set); moto ignores the filter.
    from moto.rds.responses import RDSResponse

    def describe_parameters(original: Callable[..., Any], response: RDSResponse) -> Any:
        result = original(response)
        source = response.params.get("Source")
        if source:
            parameters = result.result["Parameters"]
            result.result["Parameters"] = [p for p in parameters if p.get("Source") == source]
        return result

    _wrap(RDSResponse, "describe_db_parameters", describe_parameters)


# 4. EC2 tags ----------------------------------------------------------------------------------
def patch_ec2_tag_resource_types() -> None:
    # AWS: DescribeTags names NAT gateways `natgateway` and Elastic IPs `elastic-ip` (also in its
    # resource-type filter, which amazon.aws's tagging helpers use); moto says `nat-gateway` and
    # `vpc-elastic-ip`, so the tags look missing and modules re-tag on every run.
    from moto.ec2.models import tags as ec2_tags

    corrected = dict(ec2_tags.EC2_PREFIX_TO_RESOURCE)
    corrected.update({"nat": "natgateway", "eipalloc": "elastic-ip"})
    ec2_tags.EC2_PREFIX_TO_RESOURCE = corrected  # type: ignore[misc]


# 5. ECS clusters ------------------------------------------------------------------------------
def patch_ecs_cluster_capacity_providers() -> None:
    # AWS: DescribeClusters always returns capacityProviders and defaultCapacityProviderStrategy,
    # as [] when empty; moto omits them and community.aws.ecs_cluster fails with a KeyError.
    from moto.ecs.models import Cluster

    def init(original: Callable[..., Any], cluster: Cluster, *args: Any, **kwargs: Any) -> None:
        original(cluster, *args, **kwargs)
        cluster.capacity_providers = cluster.capacity_providers or []
        strategy = cluster.default_capacity_provider_strategy
        cluster.default_capacity_provider_strategy = strategy or []

    _wrap(Cluster, "__init__", init)


# 6. ECS services ------------------------------------------------------------------------------
_DEFAULT_DEPLOYMENT_CONFIGURATION: dict[str, Any] = {
    "deploymentCircuitBreaker": {"enable": False, "rollback": False},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
}


def deployment_configuration_as_aws(requested: dict[str, Any] | None) -> dict[str, Any]:
    """AWS fills the parts of deploymentConfiguration a request leaves out with defaults."""
    configuration = {**_DEFAULT_DEPLOYMENT_CONFIGURATION, **(requested or {})}
    breaker = configuration["deploymentCircuitBreaker"]
    configuration["deploymentCircuitBreaker"] = {"enable": False, "rollback": False, **breaker}
    return configuration


def patch_ecs_service_deployment_settings() -> None:
    # AWS: CreateService/UpdateService keep healthCheckGracePeriodSeconds and
    # deploymentConfiguration (with deploymentCircuitBreaker) and return them in every
    # service description; moto's CreateService drops both.
    from moto.ecs.responses import EC2ContainerServiceResponse

    def create(original: Callable[..., Any], response: EC2ContainerServiceResponse) -> Any:
        result = original(response)
        service = result.result["service"]
        grace = response._get_param("healthCheckGracePeriodSeconds")
        service.health_check_grace_period_seconds = grace
        requested = response._get_param("deploymentConfiguration")
        service.deployment_configuration = deployment_configuration_as_aws(requested)
        # AWS also keeps enableExecuteCommand from CreateService (moto only from UpdateService).
        execute_command = response._get_param("enableExecuteCommand")
        if execute_command is not None:
            service.enable_execute_command = execute_command
        return result

    def update(original: Callable[..., Any], response: EC2ContainerServiceResponse) -> Any:
        result = original(response)
        service = result.result["service"]
        current = getattr(service, "deployment_configuration", None)
        service.deployment_configuration = deployment_configuration_as_aws(current)
        return result

    _wrap(EC2ContainerServiceResponse, "create_service", create)
    _wrap(EC2ContainerServiceResponse, "update_service", update)


# 7. ECR ---------------------------------------------------------------------------------------
def manifest_digest(image_manifest: str) -> str:
    """The digest a registry gives a manifest: sha256 of its exact bytes."""
    return "sha256:" + hashlib.sha256(image_manifest.encode("utf-8")).hexdigest()


def patch_ecr_manifest_digest() -> None:
    # AWS: PutImage without imageDigest reports sha256 of the manifest bytes (what docker and
    # skopeo compute); moto derives a digest from the layer digests instead.
    from moto.ecr.models import ECRBackend

    def put_image(
        original: Callable[..., Any],
        backend: ECRBackend,
        repository_name: str,
        image_manifest: str,
        image_tag: str,
        image_manifest_mediatype: str | None = None,
        digest: str | None = None,
    ) -> Any:
        digest = digest or manifest_digest(image_manifest)
        return original(
            backend, repository_name, image_manifest, image_tag, image_manifest_mediatype, digest
        )

    _wrap(ECRBackend, "put_image", put_image)


# 8. EC2 source/destination check --------------------------------------------------------------
def _as_bool(value: Any) -> bool:
    return str(value).lower() not in {"false", "0"}


def patch_ec2_source_dest_check_on_primary_eni() -> None:
    # AWS: an instance's SourceDestCheck is its primary network interface's attribute: changing
    # it on the instance shows on the ENI and the other way round. moto keeps two copies.
    from moto.ec2.models.instances import Instance

    def get_check(instance: Instance) -> bool:
        primary = getattr(instance, "nics", {}).get(0)
        if primary is not None:
            return bool(primary.source_dest_check)
        return bool(instance.__dict__.get("_source_dest_check", True))

    def set_check(instance: Instance, value: Any) -> None:
        instance.__dict__["_source_dest_check"] = _as_bool(value)
        primary = getattr(instance, "nics", {}).get(0)
        if primary is not None:
            primary.source_dest_check = _as_bool(value)

    Instance.source_dest_check = property(get_check, set_check)  # type: ignore[attr-defined]


# 9. RDS endpoints backed by PostgreSQL --------------------------------------------------------
def _is_postgres(instance: DBInstance) -> bool:
    return instance.engine == "postgres" and instance.db_cluster_identifier is None


def _server_of(instance: DBInstance) -> rds_servers.InstanceServer | None:
    return instance.__dict__.get("_emulator_server")


def patch_rds_endpoint_on_postgres() -> None:
    """AWS: every DB instance is an engine of its own at its endpoint, where CreateDBInstance made
    the master user (rds_superuser member, CREATEROLE, CREATEDB) and DBName; a read replica is a
    read-only copy of its source; clients connect over TLS (rds.force_ssl=1) and verify the server
    with the RDS CA bundle; ModifyDBInstance MasterUserPassword changes the password;
    DeleteDBInstance ends the engine. moto has no engine: here each postgres instance gets its own
    PostgreSQL server on a loopback port (rds_servers.py), its CA being the emulator's."""
    from moto.rds.models import RDSBackend

    farm = rds_servers.ServerFarm.from_env()
    if farm is None:
        return
    _point_endpoints_at_servers()
    _wrap(RDSBackend, "create_db_instance", _provisioning_create(farm))
    _wrap(RDSBackend, "create_db_instance_read_replica", _replica_create(farm))
    _wrap(RDSBackend, "modify_db_instance", _password_changing_modify(farm))
    _wrap(RDSBackend, "delete_db_instance", _server_stopping_delete(farm))


def _point_endpoints_at_servers() -> None:
    from moto.rds.models import DBInstance

    original_endpoint = DBInstance.endpoint.fget  # type: ignore[attr-defined]

    def endpoint(instance: DBInstance) -> dict[str, Any]:
        server = _server_of(instance)
        if server is None:
            return original_endpoint(instance)
        return {"Address": LOOPBACK, "Port": server.port}

    DBInstance.endpoint = property(endpoint)  # type: ignore[method-assign,assignment]


def _provisioning_create(farm: rds_servers.ServerFarm) -> Callable[..., Any]:
    from moto.rds.exceptions import RDSClientError

    def create(original: Callable[..., Any], backend: RDSBackend, db_kwargs: Any) -> Any:
        username = db_kwargs.get("master_username")
        if db_kwargs.get("engine") == "postgres" and username in rds_postgres.RESERVED_USERNAMES:
            raise RDSClientError(
                "InvalidParameterValue",
                f"MasterUsername {username} cannot be used as it is a reserved word used by "
                "the engine",
            )
        instance = original(backend, db_kwargs)
        if not (_is_postgres(instance) and username):
            return instance
        server = None
        try:
            server = farm.start_primary(instance.db_instance_identifier)
            password = db_kwargs.get("master_user_password")
            db_name = db_kwargs.get("db_name")
            rds_postgres.provision_master(farm.connection(server), username, password, db_name)
        except Exception:
            backend.databases.pop(instance.db_instance_identifier, None)
            if server is not None:
                farm.stop(server)
            raise
        instance.__dict__["_emulator_server"] = server
        return instance

    return create


def _replica_create(farm: rds_servers.ServerFarm) -> Callable[..., Any]:
    def create(original: Callable[..., Any], backend: RDSBackend, db_kwargs: Any) -> Any:
        replica = original(backend, db_kwargs)
        # moto copies the source object: without this the replica would be the source's server.
        source = replica.__dict__.pop("_emulator_server", None)
        if source is not None:
            try:
                replica.__dict__["_emulator_server"] = farm.start_replica(
                    replica.db_instance_identifier, source
                )
            except Exception:
                backend.delete_db_instance(replica.db_instance_identifier, skip_final_snapshot=True)
                raise
        return replica

    return create


def _password_changing_modify(farm: rds_servers.ServerFarm) -> Callable[..., Any]:
    def modify(original: Callable[..., Any], backend: RDSBackend, ident: str, kwargs: Any) -> Any:
        instance = original(backend, ident, kwargs)
        password = kwargs.get("master_user_password")
        server = _server_of(instance)
        if password and server is not None and instance.master_username:
            rds_postgres.change_master_password(
                farm.connection(server), instance.master_username, password
            )
        return instance

    return modify


def _server_stopping_delete(farm: rds_servers.ServerFarm) -> Callable[..., Any]:
    def delete(original: Callable[..., Any], backend: RDSBackend, *args: Any, **kw: Any) -> Any:
        instance = original(backend, *args, **kw)
        server = _server_of(instance)
        if server is not None:
            farm.stop(server)
        return instance

    return delete


# 26. IAM database authentication checked ------------------------------------------------------
def patch_rds_iam_database_authentication() -> None:
    """AWS: a DB user granted rds_iam logs in only with an IAM auth token that credentials of the
    account signed (SigV4, service rds-db, 15 minutes) for this endpoint and user, and only when
    the signer's policies allow rds-db:connect on the dbuser ARN (RDS User Guide, "IAM database
    authentication"). moto has no engine; the engines of patch 9 trusted any login pg_hba allowed.
    Here each instance's pg_hba sends rds_iam members to the LDAP bind server started now in this
    process, which checks the token against moto's IAM and STS (iam_db_auth.py)."""
    if rds_servers.ServerFarm.from_env() is None:
        return  # no engines: nothing to authenticate
    iam_db_auth.start_server()


# 10. RDS resource ids -------------------------------------------------------------------------
def new_dbi_resource_id() -> str:
    """An id shaped like AWS's: `db-` and 26 upper-case base32 characters."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    return "db-" + "".join(secrets.choice(alphabet) for _ in range(26))


def patch_rds_unique_dbi_resource_id() -> None:
    # AWS: every DB instance (each read replica too) has its own DbiResourceId, the id IAM
    # database authentication puts in `rds-db:connect` ARNs; moto gives all the same one.
    from moto.rds.models import RDSBackend

    def create(original: Callable[..., Any], backend: RDSBackend, db_kwargs: Any) -> Any:
        instance = original(backend, db_kwargs)
        instance.dbi_resource_id = new_dbi_resource_id()
        return instance

    _wrap(RDSBackend, "create_db_instance", create)
    _wrap(RDSBackend, "create_db_instance_read_replica", create)


# 11. RDS default subnet group -----------------------------------------------------------------
def patch_rds_default_subnet_group() -> None:
    # AWS: an instance created without DBSubnetGroupName lands in the account's `default` DB
    # subnet group (the default VPC's subnets) and DescribeDBInstances shows it; moto shows no
    # DBSubnetGroup and amazon.aws.rds_instance fails with a KeyError on its second run.
    from moto.rds.models import RDSBackend

    def create(original: Callable[..., Any], backend: RDSBackend, db_kwargs: Any) -> Any:
        placed = db_kwargs.get("db_subnet_group_name") or db_kwargs.get("db_cluster_identifier")
        if not placed and _ensure_default_subnet_group(backend):
            db_kwargs["db_subnet_group_name"] = "default"
        return original(backend, db_kwargs)

    _wrap(RDSBackend, "create_db_instance", create)


def _ensure_default_subnet_group(backend: RDSBackend) -> bool:
    """Create the `default` DB subnet group if the default VPC has subnets to put in it."""
    if "default" in backend.subnet_groups:
        return True
    from moto.ec2.models import ec2_backends

    ec2 = ec2_backends[backend.account_id][backend.region_name]
    vpc = ec2.get_default_vpc()
    subnets = ec2.describe_subnets(filters={"vpc-id": [vpc.id]}) if vpc else []
    if not subnets:
        return False
    backend.create_subnet_group("default", "default", list(subnets), [])
    return True


# 12. EC2 security group rule descriptions -----------------------------------------------------
def patch_ec2_rule_description_updates_return_true() -> None:
    """AWS answers UpdateSecurityGroupRuleDescriptions{Ingress,Egress} with ``Return: true``;
    moto answers an empty body, and amazon.aws.ec2_security_group reads ``["Return"]``
    (KeyError 'Return' on the first run that sets a rule description)."""
    from moto.core.responses import ActionResult
    from moto.ec2.responses.security_groups import SecurityGroups

    def returning_true(original: Callable[..., Any], self: Any) -> ActionResult:
        original(self)
        return ActionResult({"Return": True})

    for direction in ("ingress", "egress"):
        _wrap(
            SecurityGroups, f"update_security_group_rule_descriptions_{direction}", returning_true
        )


# 13. KMS key deletion by ARN ------------------------------------------------------------------
def patch_kms_schedule_deletion_by_arn() -> None:
    """AWS accepts a key ARN (what amazon.aws.kms_key sends) in ScheduleKeyDeletion,
    CancelKeyDeletion, EnableKey and DisableKey; moto looks the raw argument up as a key id and
    answers HTTP 500."""
    from moto.kms.models import KmsBackend

    def by_key_id(original: Callable[..., Any], self: KmsBackend, key_id: str, *args: Any) -> Any:
        return original(self, self.any_id_to_key_id(key_id), *args)

    for name in ("schedule_key_deletion", "cancel_key_deletion", "enable_key", "disable_key"):
        _wrap(KmsBackend, name, by_key_id)


# 14. ELBv2 load balancer attributes -----------------------------------------------------------
ALB_DEFAULT_ATTRIBUTES = {
    "access_logs.s3.enabled": "false",
    "access_logs.s3.bucket": "",
    "access_logs.s3.prefix": "",
    "idle_timeout.timeout_seconds": "60",
    "deletion_protection.enabled": "false",
    "routing.http.desync_mitigation_mode": "defensive",
    "routing.http.drop_invalid_header_fields.enabled": "false",
    "routing.http.preserve_host_header.enabled": "false",
    "routing.http.x_amzn_tls_version_and_cipher_suite.enabled": "false",
    "routing.http.xff_client_port.enabled": "false",
    "routing.http.xff_header_processing.mode": "append",
    "routing.http2.enabled": "true",
    "waf.fail_open.enabled": "false",
    "client_keep_alive.seconds": "3600",
    "connection_logs.s3.enabled": "false",
}


def patch_elbv2_alb_default_attributes() -> None:
    """AWS: DescribeLoadBalancerAttributes of a new ALB lists every attribute with its default;
    moto lists a few, and amazon.aws.elb_application_lb fails with KeyError
    'access_logs_s3_enabled' on its first create."""
    from moto.elbv2.models import FakeLoadBalancer

    def init(
        original: Callable[..., Any], balancer: FakeLoadBalancer, *args: Any, **kw: Any
    ) -> None:
        original(balancer, *args, **kw)
        if balancer.type == "application":
            balancer.attrs = {**ALB_DEFAULT_ATTRIBUTES, **balancer.attrs}

    _wrap(FakeLoadBalancer, "__init__", init)


# 15. ECS RunTask with task-level memory only ---------------------------------------------------
def patch_ecs_run_task_task_level_memory() -> None:
    """AWS Fargate: containers may leave memory unset when the task sets it; moto's RunTask
    sums container memory and fails with a TypeError (HTTP 500) on None."""
    from moto.ecs.models import EC2ContainerServiceBackend

    original = EC2ContainerServiceBackend._calculate_task_resource_requirements

    def requirements(task_definition: Any) -> dict[str, Any]:
        containers = task_definition.container_definitions
        task_definition.container_definitions = [
            {**c, "memory": c.get("memory") or c.get("memoryReservation") or 0} for c in containers
        ]
        try:
            return original(task_definition)
        finally:
            task_definition.container_definitions = containers

    EC2ContainerServiceBackend._calculate_task_resource_requirements = staticmethod(requirements)


# 16. RDS gp3 baseline performance --------------------------------------------------------------
def gp3_baseline(engine: str, allocated_storage: int) -> tuple[int, int]:
    """(IOPS, MiB/s) AWS reports for gp3 without explicit values: 3000/125, or 12000/500 from
    400 GiB on PostgreSQL/MySQL/MariaDB."""
    family = engine.split("-", maxsplit=1)[0]
    large = allocated_storage >= 400 and family in {"postgres", "mysql", "mariadb"}
    return (12000, 500) if large else (3000, 125)


def patch_rds_gp3_baseline() -> None:
    """AWS: DescribeDBInstances of a gp3 instance always carries Iops and StorageThroughput (the
    baseline when none were asked for); moto omits both and amazon.aws.rds_instance fails with a
    KeyError when it converges a live gp3 instance."""
    from moto.rds.models import DBInstance

    def init(original: Callable[..., Any], instance: DBInstance, *args: Any, **kw: Any) -> None:
        original(instance, *args, **kw)
        if instance.storage_type == "gp3":
            iops, throughput = gp3_baseline(instance.engine, int(instance.allocated_storage or 0))
            instance.iops = instance.iops or iops
            instance.storage_throughput = instance.storage_throughput or throughput

    _wrap(DBInstance, "__init__", init)


# 17. ECS effective account settings ------------------------------------------------------------
# AWS defaults of the settings an account never set (the long ARN formats are mandatory since 2021).
ECS_DEFAULT_ACCOUNT_SETTINGS = {
    "serviceLongArnFormat": "enabled",
    "taskLongArnFormat": "enabled",
    "containerInstanceLongArnFormat": "enabled",
    "awsvpcTrunking": "disabled",
    "containerInsights": "disabled",
    "dualStackIPv6": "disabled",
}


def patch_ecs_effective_account_settings() -> None:
    """AWS: ListAccountSettings with effectiveSettings=true returns the effective value of a setting
    the account never set (its default); moto returns nothing, and community.aws.ecs_task with tags
    fails with IndexError ("list index out of range") reading settings[0]."""
    from moto.ecs.models import AccountSetting
    from moto.ecs.responses import EC2ContainerServiceResponse

    def list_settings(original: Callable[..., Any], response: Any) -> Any:
        result = original(response)
        if str(response._get_param("effectiveSettings", False)).lower() != "true":
            return result
        name, value = response._get_param("name"), response._get_param("value")
        listed = {s.name for s in result.result["settings"]}
        defaults = [
            AccountSetting(key, default)
            for key, default in ECS_DEFAULT_ACCOUNT_SETTINGS.items()
            if key not in listed and (not name or key == name) and (not value or default == value)
        ]
        result.result["settings"] = [*result.result["settings"], *defaults]
        return result

    _wrap(EC2ContainerServiceResponse, "list_account_settings", list_settings)


# 18. Application Auto Scaling tags --------------------------------------------------------------
SCALABLE_TARGET_TAG_LIMIT = 50  # AWS: at most 50 user tags per scalable target


def check_scalable_target_tags(
    current: dict[str, str], new: dict[str, str]
) -> tuple[str, str] | None:
    """The error (code, message) AWS answers to adding `new` to a target tagged `current`, or None.

    AWS (Application Auto Scaling API reference, TagResource; "Tagging your AWS resources"): keys
    of 1-128 and values of 0-256 characters, the `aws:` prefix is reserved, 50 tags at most."""
    for key, value in new.items():
        if not 1 <= len(key) <= 128 or len(value) > 256:
            return "ValidationException", f"tag {key!r}: keys take 1-128 characters, values 0-256"
        if key.lower().startswith("aws:"):
            return "ValidationException", f"tag {key!r}: the aws: prefix is reserved for AWS use"
    if len({**current, **new}) > SCALABLE_TARGET_TAG_LIMIT:
        limit = SCALABLE_TARGET_TAG_LIMIT
        return "TooManyTagsException", f"a scalable target carries at most {limit} tags"
    return None


def patch_application_autoscaling_tags() -> None:
    """AWS: scalable targets take tags, at RegisterScalableTarget (on creation only) and through
    TagResource / UntagResource / ListTagsForResource on the target's ARN; an unknown ARN is a
    ResourceNotFoundException, DeregisterScalableTarget drops the tags. moto 5.2.5 has no such
    handlers (HTTP 500 "not implemented") and ignores Tags, so the ecs_autoscaling role could not
    tag the target it creates."""
    from moto.applicationautoscaling.models import ApplicationAutoscalingBackend
    from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse
    from moto.core.exceptions import JsonRESTError

    def tags_of(backend: ApplicationAutoscalingBackend) -> dict[str, dict[str, str]]:
        return backend.__dict__.setdefault("_emulator_target_tags", {})

    def target_arns(backend: ApplicationAutoscalingBackend) -> set[str]:
        return {t.arn for by_id in backend.targets.values() for t in by_id.values()}

    def target_tags(backend: ApplicationAutoscalingBackend, arn: str) -> dict[str, str]:
        if arn not in target_arns(backend):
            raise JsonRESTError(
                "ResourceNotFoundException", f"No scalable target found for ARN: {arn}"
            )
        return tags_of(backend).setdefault(arn, {})

    def checked(current: dict[str, str], new: dict[str, str]) -> dict[str, str]:
        refusal = check_scalable_target_tags(current, new)
        if refusal is not None:
            raise JsonRESTError(*refusal)
        return new

    def register(original: Callable[..., Any], response: ApplicationAutoScalingResponse) -> Any:
        backend = response.applicationautoscaling_backend
        before = target_arns(backend)
        requested = checked({}, response._get_param("Tags") or {})
        result = original(response)
        arn = json.loads(result)["ScalableTargetARN"]
        if arn not in before:  # tags of RegisterScalableTarget apply on creation only
            tags_of(backend)[arn] = dict(requested)
        return result

    def deregister(original: Callable[..., Any], response: ApplicationAutoScalingResponse) -> Any:
        backend = response.applicationautoscaling_backend
        before = target_arns(backend)
        result = original(response)
        after = target_arns(backend)
        for arn in before - after:
            tags_of(backend).pop(arn, None)
        return result

    def tag_resource(response: ApplicationAutoScalingResponse) -> str:
        tags = target_tags(
            response.applicationautoscaling_backend, response._get_param("ResourceARN")
        )
        tags.update(checked(tags, response._get_param("Tags") or {}))
        return "{}"

    def untag_resource(response: ApplicationAutoScalingResponse) -> str:
        tags = target_tags(
            response.applicationautoscaling_backend, response._get_param("ResourceARN")
        )
        for key in response._get_param("TagKeys") or []:
            tags.pop(key, None)
        return "{}"

    def list_tags_for_resource(response: ApplicationAutoScalingResponse) -> str:
        tags = target_tags(
            response.applicationautoscaling_backend, response._get_param("ResourceARN")
        )
        return json.dumps({"Tags": tags})

    _wrap(ApplicationAutoScalingResponse, "register_scalable_target", register)
    _wrap(ApplicationAutoScalingResponse, "deregister_scalable_target", deregister)
    ApplicationAutoScalingResponse.tag_resource = tag_resource  # type: ignore[attr-defined]
    ApplicationAutoScalingResponse.untag_resource = untag_resource  # type: ignore[attr-defined]
    ApplicationAutoScalingResponse.list_tags_for_resource = list_tags_for_resource  # type: ignore[attr-defined]


# 19a. ECS ListTasks family filter ----------------------------------------------------------------
# AWS answers InvalidParameterException "family must match ^[a-zA-Z0-9\-_]+$"
# (awslabs/ecs-task-kite#6); botocore's model: a family is letters, numbers, hyphens, underscores.
ECS_FAMILY_PATTERN = re.compile(r"^[a-zA-Z0-9\-_]{1,255}$")


def patch_ecs_list_tasks_family_validation() -> None:
    """AWS: ListTasks refuses a `family` filter that is not a bare family name, so
    `family:revision` or a task definition ARN fails with InvalidParameterException (the reason
    community.aws.ecs_task cannot start an exact revision, ansible/ansible#32872); moto filters
    on it and answers an empty list."""
    from moto.ecs.exceptions import InvalidParameterException
    from moto.ecs.responses import EC2ContainerServiceResponse

    def list_tasks(original: Callable[..., Any], response: EC2ContainerServiceResponse) -> Any:
        family = response._get_param("family")
        if family is not None and not ECS_FAMILY_PATTERN.match(family):
            raise InvalidParameterException("family must match ^[a-zA-Z0-9\\-_]+$")
        return original(response)

    _wrap(EC2ContainerServiceResponse, "list_tasks", list_tasks)


# 22a. RDS read replica: no parameter group at creation ------------------------------------------
# Engines that accept DBParameterGroupName in CreateDBInstanceReadReplica (any Region), and those
# that accept it only for a cross-Region replica.
RDS_REPLICA_PARAMETER_GROUP_ENGINES = ("oracle", "db2")
RDS_REPLICA_PARAMETER_GROUP_CROSS_REGION_ENGINES = ("mysql",)


def replica_parameter_group_allowed(engine: str, cross_region: bool) -> bool:
    """Whether CreateDBInstanceReadReplica may name a DB parameter group for this source engine."""
    family = engine.split("-", maxsplit=1)[0]
    if family in RDS_REPLICA_PARAMETER_GROUP_ENGINES:
        return True
    return cross_region and family in RDS_REPLICA_PARAMETER_GROUP_CROSS_REGION_ENGINES


def patch_rds_replica_parameter_group_same_region() -> None:
    """AWS: "Specifying a parameter group for this operation is only supported for MySQL DB
    instances for cross-Region read replicas, for Multi-AZ DB cluster read replica instances, for
    Db2 DB instances, and for Oracle DB instances"; a same-Region replica inherits the source's
    group (RDS API reference, CreateDBInstanceReadReplica, DBParameterGroupName). For PostgreSQL
    AWS answers InvalidParameterCombination "A parameter group can't be specified during Read
    Replica creation for the following DB engine: postgres" (hashicorp/terraform-provider-aws
    #38056, #38227). moto accepts the parameter for every engine."""
    from moto.rds.exceptions import InvalidParameterCombination
    from moto.rds.models import RDSBackend

    def create(original: Callable[..., Any], backend: RDSBackend, db_kwargs: Any) -> Any:
        if db_kwargs.get("db_parameter_group_name"):
            source_id = db_kwargs["source_db_instance_identifier"]
            source = backend.find_db_from_id(source_id)
            cross_region = bool(backend.arn_regex.match(source_id)) and (
                source_id.split(":")[3] != backend.region_name
            )
            if not replica_parameter_group_allowed(source.engine, cross_region):
                raise InvalidParameterCombination(
                    "A parameter group can't be specified during Read Replica creation for the "
                    f"following DB engine: {source.engine}"
                )
        return original(backend, db_kwargs)

    _wrap(RDSBackend, "create_db_instance_read_replica", create)


# 22b. RDS read replica: the source must be available --------------------------------------------
def patch_rds_replica_source_available() -> None:
    """AWS: CreateDBInstanceReadReplica needs its source DB instance in the `available` state
    (InvalidDBInstanceStateFault, code InvalidDBInstanceState, in the operation's errors of the
    botocore RDS service model; RDS User Guide, "Creating a read replica": the source must be
    available, not e.g. backing-up or modifying). moto copies a source in any state."""
    from moto.rds.exceptions import RDSClientError
    from moto.rds.models import RDSBackend

    def create(original: Callable[..., Any], backend: RDSBackend, db_kwargs: Any) -> Any:
        source = backend.find_db_from_id(db_kwargs["source_db_instance_identifier"])
        if source.status != "available":
            raise RDSClientError(
                "InvalidDBInstanceState",
                f"DB Instance {source.db_instance_identifier} is not in available state "
                f"(it is {source.status}).",
            )
        return original(backend, db_kwargs)

    _wrap(RDSBackend, "create_db_instance_read_replica", create)


# 22c. RDS parameter group change waits for a reboot ---------------------------------------------
def patch_rds_parameter_group_pending_reboot() -> None:
    """AWS: after ModifyDBInstance associates another DB parameter group with an instance, its
    DBParameterGroups[].ParameterApplyStatus is `pending-reboot` until RebootDBInstance (RDS User
    Guide, "Associating a DB parameter group with a DB instance": "the DB instance must be
    rebooted ... the status is pending-reboot"); each instance has its own status. moto reports
    `in-sync` always, and sets it on the group object all its instances share."""
    from moto.rds.models import DBInstance, RDSBackend

    def status_list(instance: DBInstance) -> list[dict[str, str]]:
        pending = instance.__dict__.get("_emulator_pending_reboot", False)
        return [
            {
                "DBParameterGroupName": group.name,
                "ParameterApplyStatus": "pending-reboot" if pending else "in-sync",
            }
            for group in instance.db_parameter_groups()
        ]

    def modify(original: Callable[..., Any], backend: RDSBackend, ident: str, kwargs: Any) -> Any:
        before = backend.describe_db_instances(ident)[0].db_parameter_group_name
        instance = original(backend, ident, kwargs)
        wanted = kwargs.get("db_parameter_group_name")
        if wanted and wanted != before:
            instance.__dict__["_emulator_pending_reboot"] = True
        return instance

    def reboot(original: Callable[..., Any], backend: RDSBackend, ident: str) -> Any:
        instance = original(backend, ident)
        instance.__dict__.pop("_emulator_pending_reboot", None)
        return instance

    DBInstance.db_parameter_group_status_list = property(status_list)  # type: ignore[method-assign,assignment]
    _wrap(RDSBackend, "modify_db_instance", modify)
    _wrap(RDSBackend, "reboot_db_instance", reboot)


# 20. IAM propagation: a new role is not assumable by Lambda at once (opt-in) -------------------
IAM_PROPAGATION_ENV = "DJANGO_ECS_EMULATOR_IAM_PROPAGATION_SECONDS"
LAMBDA_ROLE_NOT_ASSUMABLE = "The role defined for the function cannot be assumed by Lambda."


def iam_propagation_seconds(environ: Mapping[str, str]) -> float:
    """The opt-in window (seconds); 0, unset or not a number: off."""
    try:
        return max(0.0, float(environ.get(IAM_PROPAGATION_ENV, "") or 0))
    except ValueError:
        return 0.0


def role_still_propagating(
    created: datetime.datetime, now: datetime.datetime, window_seconds: float
) -> bool:
    return window_seconds > 0 and now - created < datetime.timedelta(seconds=window_seconds)


def patch_lambda_role_propagation() -> None:
    """AWS: IAM is eventually consistent: "changes that I make are not always immediately
    visible ... IAM ... replicates data across multiple servers" (IAM User Guide, Troubleshooting
    IAM). CreateFunction naming a role created seconds before fails with
    InvalidParameterValueException "The role defined for the function cannot be assumed by
    Lambda." (Lambda Developer Guide, Troubleshoot deployment issues; the error Terraform's AWS
    provider retries on CreateFunction for two minutes: hashicorp/terraform-provider-aws
    lambda_function.go, iamPropagationTimeout). UpdateFunctionConfiguration with a new Role goes
    through the same check. moto accepts any existing role at once.

    Opt-in, as the delay is: with DJANGO_ECS_EMULATOR_IAM_PROPAGATION_SECONDS=N in the emulator's
    environment at start, a role younger than N seconds gets that error. Unset (the default), the
    emulator answers as moto does, so runs never wait for a propagation AWS might not impose."""
    from moto.awslambda.exceptions import InvalidParameterValueException
    from moto.awslambda.models import LambdaBackend, LambdaStorage
    from moto.core.utils import utcnow
    from moto.iam.exceptions import NotFoundException
    from moto.iam.models import iam_backends

    window = iam_propagation_seconds(os.environ)
    if not window:
        return

    def refuse_fresh_role(account_id: str, partition: str, role_arn: str) -> None:
        try:
            role = iam_backends[account_id][partition].get_role_by_arn(role_arn)
        except NotFoundException:
            return  # moto's own check answers for an unknown role
        if role_still_propagating(role.create_date, utcnow(), window):
            raise InvalidParameterValueException(LAMBDA_ROLE_NOT_ASSUMABLE)

    def put_function(
        original: Callable[..., Any], storage: LambdaStorage, fn: LambdaFunction
    ) -> Any:
        refuse_fresh_role(storage.account_id, storage.partition, fn.role)
        return original(storage, fn)

    def update_configuration(
        original: Callable[..., Any],
        backend: LambdaBackend,
        function_name: str,
        qualifier: str,
        body: dict[str, Any],
    ) -> Any:
        if body.get("Role"):
            refuse_fresh_role(backend.account_id, backend.partition, body["Role"])
        return original(backend, function_name, qualifier, body)

    _wrap(LambdaStorage, "put_function", put_function)
    _wrap(LambdaBackend, "update_function_configuration", update_configuration)


ECS_ROLE_NOT_ASSUMABLE = (
    "ECS was unable to assume the role '{arn}' that was provided for this task. Please verify"
    " that the role being passed has the proper trust relationship and permissions and that your"
    " IAM user has permissions to pass this role."
)


def patch_ecs_role_propagation() -> None:
    """AWS (20b): the same eventual consistency meets a task. When a task's execution or task
    role (its definition's, or an override's) was created seconds before, ECS cannot assume it
    yet: the task stops before any container runs, its stoppedReason "ECS was unable to assume
    the role '<arn>' that was provided for this task. Please verify that the role being passed
    has the proper trust relationship and permissions..." (the text ECS reports, quoted in
    boto/boto3#1878 and telia-oss/terraform-aws-ecs-fargate#58, whose fix is to create the task
    after the role's policy). moto runs the task at once. Opt-in with the same
    DJANGO_ECS_EMULATOR_IAM_PROPAGATION_SECONDS window as 20, so by default runs never wait."""
    from moto.core.utils import utcnow
    from moto.ecs.models import EC2ContainerServiceBackend
    from moto.iam.exceptions import NotFoundException
    from moto.iam.models import iam_backends

    window = iam_propagation_seconds(os.environ)
    if not window:
        return

    def fresh_role(backend: Any, task_definition: str, overrides: dict[str, Any] | None) -> str:
        definition = backend.describe_task_definition(task_definition)
        # moto sets these attributes only when the definition names them.
        named = [getattr(definition, f"{kind}_role_arn", None) for kind in ("task", "execution")]
        named += [(overrides or {}).get(key) for key in ("taskRoleArn", "executionRoleArn")]
        for arn in filter(None, named):
            try:
                role = iam_backends[backend.account_id][backend.partition].get_role_by_arn(arn)
            except NotFoundException:
                continue
            if role_still_propagating(role.create_date, utcnow(), window):
                return arn
        return ""

    def run_task(
        original: Callable[..., Any],
        backend: Any,
        cluster_str: str,
        task_definition_str: str,
        count: int,
        overrides: dict[str, Any] | None,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        unassumable = fresh_role(backend, task_definition_str, overrides)
        tasks = original(
            backend, cluster_str, task_definition_str, count, overrides, *args, **kwargs
        )
        for task in tasks if unassumable else []:
            task.last_status = task.desired_status = "STOPPED"
            task.stopped_reason = ECS_ROLE_NOT_ASSUMABLE.format(arn=unassumable)
            for container in task.containers:
                container.last_status, container.exitCode = "STOPPED", None
        return tasks

    _wrap(EC2ContainerServiceBackend, "run_task", run_task)


# 23. EC2 CreateFlowLogs: TrafficType is required for VPC, subnet and interface flow logs ------
def patch_ec2_flow_logs_traffic_type_required() -> None:
    """AWS: CreateFlowLogs needs TrafficType (ACCEPT, REJECT or ALL) for every resource type
    except transit gateways and Cloud WAN (botocore's ec2 service model, CreateFlowLogsRequest
    TrafficType: "It is required for the other resource types"); EC2 answers a request without a
    required parameter with MissingParameter. moto creates the flow log with no traffic type.
    (moto already refuses cloud-watch-logs without DeliverLogsPermissionArn.)"""
    from moto.ec2.exceptions import MissingParameterError
    from moto.ec2.responses.flow_logs import FlowLogs

    def create_flow_logs(original: Callable[..., Any], response: FlowLogs) -> Any:
        resource_type = response._get_param("ResourceType") or ""
        if not resource_type.startswith("TransitGateway") and not response._get_param(
            "TrafficType"
        ):
            raise MissingParameterError("TrafficType")
        return original(response)

    _wrap(FlowLogs, "create_flow_logs", create_flow_logs)


# 24. ECR lifecycle policy preview ---------------------------------------------------------------
def patch_ecr_lifecycle_policy_preview() -> None:
    """AWS: StartLifecyclePolicyPreview evaluates a lifecycle policy (the one in the request, else
    the repository's; LifecyclePolicyNotFoundException when there is neither) over the
    repository's images without expiring anything, and GetLifecyclePolicyPreview answers the
    images it would expire: previewResults[] of imageDigest, imageTags, imagePushedAt, action
    {type: EXPIRE}, appliedRulePriority, with status and summary.expiringImageTotalCount
    (botocore's ecr service model; ECR User Guide, "Previewing a lifecycle policy"); before any
    preview it answers LifecyclePolicyPreviewNotFoundException. moto 5.2.5 has neither operation.
    The evaluation follows the documented rules (tools/emulator/ecr_lifecycle.py); AWS runs the
    preview asynchronously, the emulator completes it at once (status COMPLETE)."""
    from moto.core.exceptions import ServiceException
    from moto.core.responses import ActionResult
    from moto.ecr.exceptions import LifecyclePolicyNotFoundException
    from moto.ecr.models import Repository
    from moto.ecr.policy_validation import EcrLifecyclePolicyValidator
    from moto.ecr.responses import ECRResponse

    from tools.emulator import ecr_lifecycle

    preview_key = "_emulator_lifecycle_preview"

    class LifecyclePolicyPreviewNotFoundException(ServiceException):
        # A class of our own module: moto looks a moto.core exception up in a "core" model.
        code = "LifecyclePolicyPreviewNotFoundException"

    def repository(response: ECRResponse) -> Repository:
        return response.ecr_backend._get_repository(
            response._get_param("repositoryName"), response._get_param("registryId")
        )

    def start(response: ECRResponse) -> ActionResult:
        repo = repository(response)
        policy_text = response._get_param("lifecyclePolicyText") or repo.lifecycle_policy
        if not policy_text:
            raise LifecyclePolicyNotFoundException(repo.name, repo.registry_id)
        EcrLifecyclePolicyValidator(policy_text).validate()
        images = [  # repository order is push order: the stable tie-break for equal seconds
            ecr_lifecycle.Image(
                image.image_digest,
                tuple(image.image_tags),
                datetime.datetime.fromtimestamp(image.image_pushed_at, datetime.UTC),
            )
            for image in repo.images
        ]
        now = datetime.datetime.now(datetime.UTC)
        rules = ecr_lifecycle.expiring_rules(json.loads(policy_text), images, now)
        repo.__dict__[preview_key] = {
            "policy": policy_text,
            "results": [
                {
                    "imageDigest": image.digest,
                    "imageTags": list(image.tags),
                    "imagePushedAt": image.pushed_at,
                    "action": {"type": "EXPIRE"},
                    "appliedRulePriority": rules[image.digest],
                    "storageClass": "STANDARD",
                }
                for image in images
                if image.digest in rules
            ],
        }
        return ActionResult(
            {
                "registryId": repo.registry_id,
                "repositoryName": repo.name,
                "lifecyclePolicyText": policy_text,
                "status": "IN_PROGRESS",
            }
        )

    def get(response: ECRResponse) -> ActionResult:
        repo = repository(response)
        preview = repo.__dict__.get(preview_key)
        if preview is None:
            raise LifecyclePolicyPreviewNotFoundException(
                f"Lifecycle policy preview for the repository with name '{repo.name}' in the "
                f"registry with id '{repo.registry_id}' not found",
            )
        results = preview["results"]
        wanted = response._get_param("imageIds")
        if wanted:
            digests = {image_id.get("imageDigest") for image_id in wanted}
            tags = {image_id.get("imageTag") for image_id in wanted}
            results = [
                r for r in results if r["imageDigest"] in digests or tags & set(r["imageTags"])
            ]
        tag_status = (response._get_param("filter") or {}).get("tagStatus", "ANY")
        if tag_status != "ANY":
            results = [r for r in results if bool(r["imageTags"]) == (tag_status == "TAGGED")]
        return ActionResult(
            {
                "registryId": repo.registry_id,
                "repositoryName": repo.name,
                "lifecyclePolicyText": preview["policy"],
                "status": "COMPLETE",
                "previewResults": results,
                "summary": {"expiringImageTotalCount": len(results)},
            }
        )

    ECRResponse.start_lifecycle_policy_preview = start  # type: ignore[attr-defined]
    ECRResponse.get_lifecycle_policy_preview = get  # type: ignore[attr-defined]


# 25. IAM OIDC provider client IDs --------------------------------------------------------------
OIDC_CLIENT_ID_LIMIT = 100  # IAM quota: client IDs (audiences) per OIDC provider


def patch_iam_oidc_client_ids() -> None:
    """AWS has AddClientIDToOpenIDConnectProvider and RemoveClientIDFromOpenIDConnectProvider
    (django_ecs.aws.iam_oidc_provider converges a shared provider's audiences with them); moto
    5.2.5 implements neither (the call fails as not implemented). As AWS documents: adding an ID
    the provider has, or removing one it lacks, succeeds and changes nothing; an unknown ARN is
    NoSuchEntity; an ID must be 1 to 255 characters, at most 100 per provider."""
    from moto.core.responses import EmptyResult
    from moto.iam.exceptions import LimitExceededException, ValidationError
    from moto.iam.responses import IamResponse

    def client_id_param(response: IamResponse) -> str:
        client_id = response._get_param("ClientID") or ""
        if not 1 <= len(client_id) <= 255:
            raise ValidationError(
                "1 validation error detected: Value at 'clientID' failed to satisfy constraint: "
                "Member must have length between 1 and 255"
            )
        return client_id

    def add_client_id(self: IamResponse) -> EmptyResult:
        client_id = client_id_param(self)
        provider = self.backend.get_open_id_connect_provider(
            self._get_param("OpenIDConnectProviderArn")
        )
        if client_id not in provider.client_id_list:
            if len(provider.client_id_list) >= OIDC_CLIENT_ID_LIMIT:
                raise LimitExceededException(
                    "Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: "
                    f"{OIDC_CLIENT_ID_LIMIT}"
                )
            provider.client_id_list.append(client_id)
        return EmptyResult()

    def remove_client_id(self: IamResponse) -> EmptyResult:
        client_id = client_id_param(self)
        provider = self.backend.get_open_id_connect_provider(
            self._get_param("OpenIDConnectProviderArn")
        )
        provider.client_id_list[:] = [i for i in provider.client_id_list if i != client_id]
        return EmptyResult()

    IamResponse.add_client_id_to_open_id_connect_provider = add_client_id  # type: ignore[attr-defined]
    IamResponse.remove_client_id_from_open_id_connect_provider = remove_client_id  # type: ignore[attr-defined]


# 27. ALB data plane: listeners answer HTTP ----------------------------------------------------
def patch_elbv2_listeners_answer_http() -> None:
    """AWS: an ALB listener accepts connections on its port and routes them by its rules. moto
    stores the listener and nothing listens. Here each listener of an application load
    balancer gets a loopback port of its own (alb_dataplane.py), opened by CreateListener,
    reopened by ModifyListener, closed by DeleteListener and DeleteLoadBalancer."""
    from moto.elbv2.models import ELBv2Backend

    def create(original: Callable[..., Any], self: ELBv2Backend, *args: Any, **kw: Any) -> Any:
        listener = original(self, *args, **kw)
        _serve_listener(self, listener, alb_dataplane.plane().open)
        return listener

    def modify(original: Callable[..., Any], self: ELBv2Backend, *args: Any, **kw: Any) -> Any:
        listener = original(self, *args, **kw)
        _serve_listener(self, listener, alb_dataplane.plane().reopen)
        return listener

    def delete(original: Callable[..., Any], self: ELBv2Backend, arn: str) -> Any:
        listener = original(self, arn)
        alb_dataplane.plane().close(arn)
        return listener

    def delete_balancer(original: Callable[..., Any], self: ELBv2Backend, arn: str) -> None:
        balancer = self.load_balancers.get(arn)
        original(self, arn)
        if balancer is not None:
            alb_dataplane.plane().close_balancer(balancer)

    _wrap(ELBv2Backend, "create_listener", create)
    _wrap(ELBv2Backend, "modify_listener", modify)
    _wrap(ELBv2Backend, "delete_listener", delete)
    _wrap(ELBv2Backend, "delete_load_balancer", delete_balancer)


def _serve_listener(
    backend: ELBv2Backend, listener: FakeListener, serve: Callable[..., None]
) -> None:
    # A listener the data plane cannot serve (an IAM server certificate, a key moto lacks)
    # still exists in the API, as before; why it does not answer goes to moto.log.
    try:
        serve(backend, listener)
    except Exception as error:  # the API answers as before, whatever the data plane does
        print(f"alb_dataplane: {listener.arn} not served: {error!r}", file=sys.stderr)


# 28. ALB DNS names resolve to loopback --------------------------------------------------------
def patch_elbv2_dns_name_localhost() -> None:
    """AWS: an ALB's DNSName resolves to the load balancer. moto's
    `<name>-1.<region>.elb.amazonaws.com` resolves to nothing here (or to AWS). Here it is
    `<name>-<digits>.<region>.elb.localhost`, which curl resolves to 127.0.0.1 (RFC 6761), so
    `curl http://<DNSName>:<local port>/` sends the real name as Host."""
    from moto.elbv2.models import ELBv2Backend

    def create(original: Callable[..., Any], self: ELBv2Backend, *args: Any, **kw: Any) -> Any:
        balancer = original(self, *args, **kw)
        balancer.dns_name = alb_dataplane.local_dns_name(
            balancer.name, self.region_name, balancer.scheme
        )
        return balancer

    _wrap(ELBv2Backend, "create_load_balancer", create)


# 29. Target health is health-checked ----------------------------------------------------------
def patch_elbv2_target_health_checked() -> None:
    """AWS: DescribeTargetHealth reports each target's health-check state (initial, healthy,
    unhealthy, draining, unused) with a reason code. moto reports every registered target
    healthy. Here targets are health-checked (alb_health.py) and the real state is reported;
    deregistered targets are listed as draining for the (capped) deregistration delay."""
    from moto.elbv2.models import ELBv2Backend

    def register(original: Callable[..., Any], self: ELBv2Backend, arn: str, targets: Any) -> None:
        original(self, arn, targets)
        alb_dataplane.plane().start()
        alb_dataplane.plane().health.registered(self, self.target_groups[arn])

    def deregister(
        original: Callable[..., Any], self: ELBv2Backend, arn: str, targets: Any
    ) -> None:
        original(self, arn, targets)
        group = self.target_groups[arn]
        ported = [{"Id": t["Id"], "Port": target_port(group, t)} for t in targets]
        alb_dataplane.plane().health.deregistered(group, ported)

    def describe(
        original: Callable[..., Any], self: ELBv2Backend, arn: str, targets: list[dict[str, Any]]
    ) -> list[FakeHealthStatus]:
        group = self.target_groups.get(arn)
        if group is None:
            return original(self, arn, targets)  # TargetGroupNotFound
        health = alb_dataplane.plane().health
        if not targets:
            draining = [{"Id": i, "Port": p} for i, p in health.draining(arn)]
            targets = list(group.targets.values()) + draining
        return [_target_health(self, group, target) for target in targets]

    _wrap(ELBv2Backend, "register_targets", register)
    _wrap(ELBv2Backend, "deregister_targets", deregister)
    _wrap(ELBv2Backend, "describe_target_health", describe)


NOT_REGISTERED = ("unused", "Target.NotRegistered", "Target is not registered to the target group")


def _target_health(
    backend: ELBv2Backend, group: FakeTargetGroup, target: dict[str, Any]
) -> FakeHealthStatus:
    from moto.elbv2.models import FakeHealthStatus

    health = alb_dataplane.plane().health
    port = target_port(group, target)
    status = health.status(group.arn, target["Id"], port)
    if status is None and (target["Id"], port) in group.targets:
        health.registered(backend, group)  # registered behind the API's back (tg.register)
        status = health.status(group.arn, target["Id"], port)
    state, reason, description = status or NOT_REGISTERED
    hc_port = str(alb_health.health_check_port(group, port))
    return FakeHealthStatus(target["Id"], str(port), hc_port, state, reason, description)


# 30. A target is an (Id, Port) pair -----------------------------------------------------------
def target_port(group: FakeTargetGroup, target: dict[str, Any]) -> int:
    """A target's port: its own, else the target group's (RegisterTargets / DeregisterTargets)."""
    return int(target.get("Port") or group.port)


def patch_elbv2_targets_by_id_and_port() -> None:
    """AWS (RegisterTargets): "You can register each EC2 instance or IP address with the same
    target group multiple times using different ports"; DeregisterTargets removes the one
    registration of that Id and Port (the group's port when Port is omitted). moto keys a group's
    targets by Id alone, so registering 127.0.0.1:8001 replaced 127.0.0.1:8000."""
    from moto.elbv2.exceptions import InvalidTargetError, TargetNotRunning
    from moto.elbv2.models import FakeTargetGroup

    def register(group: FakeTargetGroup, targets: list[dict[str, Any]]) -> None:
        for target in targets:
            instance = group.ec2_backend.get_instance_by_id(target["Id"])
            if instance is not None and instance.state != "running":
                raise TargetNotRunning(instance_id=target["Id"])
            port = target_port(group, target)
            group.targets[(target["Id"], port)] = {"Id": target["Id"], "Port": port}

    def deregister(group: FakeTargetGroup, targets: list[dict[str, Any]]) -> None:
        for target in targets:
            key = (target["Id"], target_port(group, target))
            if key not in group.targets:
                raise InvalidTargetError()
            group.deregistered_targets[key] = group.targets.pop(key)

    def deregister_terminated(group: FakeTargetGroup, instance_ids: list[str]) -> None:
        for key in [k for k, t in group.targets.items() if t["Id"] in instance_ids]:
            group.terminated_targets[key] = group.targets.pop(key)

    FakeTargetGroup.register = register  # type: ignore[method-assign]
    FakeTargetGroup.deregister = deregister  # type: ignore[method-assign]
    FakeTargetGroup.deregister_terminated_instances = deregister_terminated  # type: ignore[method-assign]


# 31. ECR keeps pushed blobs; ECS runs tasks as local processes ---------------------------------
def patch_ecr_keeps_layer_blobs() -> None:
    """AWS: a layer (or image config) pushed with CompleteLayerUpload can be pulled back; moto
    keeps only its length. Here the bytes go to the emulator's blob store (ecr_blobs.py,
    `<state>/ecr/blobs/sha256/<hex>`), which ECS tasks pull their images from."""
    from moto.ecr.models import ECRBackend

    def complete(
        original: Callable[..., Any],
        backend: ECRBackend,
        repository_name: str,
        upload_id: str,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        registry_id = kwargs.get("registry_id") or (args[1] if len(args) > 1 else None)
        repository = backend._get_repository(repository_name, registry_id)
        upload = repository.uploads.get(upload_id)
        data = bytes(upload.layer_parts) if upload is not None else None
        result = original(backend, repository_name, upload_id, *args, **kwargs)
        if data is not None:
            ecr_blobs.BlobStore.of_emulator().put(data)
        return result

    _wrap(ECRBackend, "complete_layer_upload", complete)


def patch_ecr_download_url_for_layer() -> None:
    """AWS: GetDownloadUrlForLayer answers a (pre-signed S3) URL of a layer the repository
    has, LayersNotFoundException otherwise (botocore's ECR model). moto 5.2.5 raises
    NotImplementedError (500). Here the URL is the emulator's own loopback blob endpoint."""
    from moto.ecr.exceptions import ServiceException
    from moto.ecr.responses import ECRResponse

    class LayersNotFoundException(ServiceException):
        code = "LayersNotFoundException"

    def get_download_url_for_layer(response: ECRResponse) -> Any:
        from moto.core.responses import ActionResult

        name, digest = response._get_param("repositoryName"), response._get_param("layerDigest")
        repository = response.ecr_backend._get_repository(name, response._get_param("registryId"))
        store = ecr_blobs.BlobStore.of_emulator()
        if digest not in repository.layers or not store.has(digest):
            raise LayersNotFoundException(
                f"The specified layer {digest} could not be found in repository {name}"
            )
        port = ecs_runtime.endpoint_server().port
        url = f"http://{LOOPBACK}:{port}{ecs_runtime.BLOB_PATH}{digest}"
        return ActionResult({"downloadUrl": url, "layerDigest": digest})

    ECRResponse.get_download_url_for_layer = get_download_url_for_layer  # type: ignore[method-assign]


def _ecs_endpoint_url() -> str:
    from moto import settings  # the server records its port there at start

    return f"http://{LOOPBACK}:{settings.moto_server_port()}"


def _start_task_run(backend: Any, task: Any, task_definition: Any) -> ecs_runtime.TaskRun:
    from moto.ec2.models import ec2_backends

    ecs_runtime.place_in_subnet(task, ec2_backends[backend.account_id][backend.region_name])
    account = ecs_runtime.Account(backend.account_id, backend.region_name)
    run = ecs_runtime.TaskRun(
        task,
        task_definition,
        account,
        _ecs_endpoint_url(),
        ecr_blobs.state_dir(),
        on_change=ecs_services.task_changed,
    )
    if task.last_status == "STOPPED":  # patch 20b: ECS could not assume its role
        run.stop(task.stopped_reason, "TaskFailedToStart")
        for container in task.containers:
            container.last_status = "STOPPED"
        task.stopped_at = ecs_runtime.utcnow()
        return run
    task.last_status = "PROVISIONING"
    ecs_runtime.register(run)
    run.start()
    return run


def patch_ecs_runs_tasks() -> None:
    """AWS: RunTask starts the task definition's containers; the task goes PROVISIONING ->
    PENDING -> RUNNING -> DEPROVISIONING -> STOPPED with its containers' exit codes, and StopTask
    stops it (SIGTERM, SIGKILL after stopTimeout). moto answers RUNNING at once, runs nothing,
    and its tasks drift to STOPPED one DescribeTasks at a time. Here ecs_runtime.py runs them
    (README item 31); applied after patch 20b, whose stopped tasks never start."""
    from moto.ec2.models.elastic_network_interfaces import NetworkInterface
    from moto.ecs.models import EC2ContainerServiceBackend, Task

    # moto names an ENI's private DNS name only in VPCs with DNS hostnames, and awsvpc RunTask
    # then failed with an AttributeError (500); ecs_runtime.place_in_subnet names it.
    NetworkInterface.private_dns_name = None  # type: ignore[attr-defined]

    def run_task(
        original: Callable[..., Any],
        backend: Any,
        cluster_str: str,
        task_definition_str: str,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        tasks = original(backend, cluster_str, task_definition_str, *args, **kwargs)
        definition = backend.describe_task_definition(task_definition_str)
        for task in tasks:
            task.created_at = ecs_runtime.utcnow()
            _start_task_run(backend, task, definition)
        return tasks

    def stop_task(
        original: Callable[..., Any], backend: Any, cluster_str: str, task_str: str, reason: str
    ) -> Any:
        cluster = backend._get_cluster(cluster_str)
        task_id = task_str.rsplit("/", maxsplit=1)[-1]
        for arn, task in backend.tasks.get(cluster.name, {}).items():
            run = ecs_runtime.run_of(task)
            if arn.endswith(task_id) and run is not None:
                run.stop(reason or ecs_runtime.USER_STOPPED, "UserInitiated")
                return task  # still RUNNING, desiredStatus STOPPED, as StopTask answers
        return original(backend, cluster_str, task_str, reason)

    def advance(original: Callable[..., Any], task: Any) -> None:
        if ecs_runtime.run_of(task) is None and not hasattr(task, "stop_code"):
            original(task)  # moto's own progression for tasks the runtime does not run

    def list_tasks(original: Callable[..., Any], backend: Any, *args: Any, **kwargs: Any) -> Any:
        tasks = original(backend, *args, **kwargs)
        service_name = kwargs.get("service_name") or (args[4] if len(args) > 4 else None)
        if not service_name:
            return tasks
        group = f"service:{service_name.split('/')[-1]}"  # moto ignored serviceName
        return [t for t in tasks if getattr(t, "group", None) == group]

    _wrap(EC2ContainerServiceBackend, "run_task", run_task)
    _wrap(EC2ContainerServiceBackend, "stop_task", stop_task)
    _wrap(EC2ContainerServiceBackend, "list_tasks", list_tasks)
    _wrap(Task, "advance", advance)


def patch_ecs_services_schedule() -> None:
    """AWS: a service's scheduler keeps desiredCount tasks of its PRIMARY deployment running,
    rolls a new deployment on UpdateService (taskDefinition, forceNewDeployment), registers
    its tasks in its target groups, and trips the deployment circuit breaker. moto keeps a
    service as a record and starts nothing. Here ecs_services.py schedules each service."""
    from moto.ecs.models import EC2ContainerServiceBackend
    from moto.moto_api._internal.models import MotoAPIBackend

    def create(original: Callable[..., Any], backend: Any, *args: Any, **kwargs: Any) -> Any:
        service = original(backend, *args, **kwargs)
        ecs_services.start(backend, service)
        return service

    def update(original: Callable[..., Any], backend: Any, properties: dict[str, Any]) -> Any:
        forced = bool(properties.get("force_new_deployment"))
        requested = properties.get("task_definition")
        cluster = backend._get_cluster(properties.get("cluster", "default"))
        before = backend._get_service(cluster.name, properties["service"].split("/")[-1])
        previous, deployments = before.task_definition, [dict(d) for d in before.deployments]
        service = original(backend, properties)
        scheduler = ecs_services.of(service)
        if scheduler is None:
            return service
        service.deployments = deployments  # moto renames the primary on forceNewDeployment
        if requested:
            service.task_definition = backend.describe_task_definition(requested).arn
        if forced or service.task_definition != previous:
            scheduler.redeploy(service.task_definition)
        scheduler.count()  # moto set runningCount to the new desiredCount
        scheduler.wake.set()
        return service

    def delete(original: Callable[..., Any], backend: Any, *args: Any, **kwargs: Any) -> Any:
        service = original(backend, *args, **kwargs)
        scheduler = ecs_services.of(service)
        if scheduler is not None:
            scheduler.wake.set()  # INACTIVE now: the scheduler stops its tasks
        return service

    def reset(original: Callable[..., Any], api: Any) -> None:
        # /moto-api/reset forgets the services and tasks: their processes stop with them.
        ecs_services.retire_all()
        for run in ecs_runtime.all_runs():
            run.stop("The emulator's state was reset", "UserInitiated")
        original(api)

    _wrap(MotoAPIBackend, "reset", reset)
    _wrap(EC2ContainerServiceBackend, "create_service", create)
    _wrap(EC2ContainerServiceBackend, "update_service", update)
    _wrap(EC2ContainerServiceBackend, "delete_service", delete)


# Which patches run once moto has imported which module (None: before the server starts).
PATCHES: dict[str | None, tuple[Callable[[], None], ...]] = {
    None: (patch_iam_managed_policies, patch_lambda_without_docker),
    "moto.awslambda.models": (patch_lambda_role_propagation,),
    "moto.awslambda_simple.models": (patch_lambda_runs_handler,),
    "moto.rds.models": (
        patch_rds_parameter_group_not_found,
        patch_rds_engine_default_parameters,
        patch_rds_endpoint_on_postgres,
        patch_rds_iam_database_authentication,
        patch_rds_unique_dbi_resource_id,
        patch_rds_default_subnet_group,
        patch_rds_gp3_baseline,
        patch_rds_replica_parameter_group_same_region,
        patch_rds_replica_source_available,
        patch_rds_parameter_group_pending_reboot,
    ),
    "moto.rds.responses": (patch_rds_parameter_source_filter,),
    "moto.ec2.models": (patch_ec2_tag_resource_types, patch_ec2_source_dest_check_on_primary_eni),
    "moto.ec2.responses.security_groups": (patch_ec2_rule_description_updates_return_true,),
    "moto.ec2.responses.flow_logs": (patch_ec2_flow_logs_traffic_type_required,),
    "moto.ecs.responses": (
        patch_ecs_service_deployment_settings,
        patch_ecs_effective_account_settings,
        patch_ecs_list_tasks_family_validation,
    ),
    "moto.ecr.models": (patch_ecr_manifest_digest, patch_ecr_keeps_layer_blobs),
    "moto.ecr.responses": (patch_ecr_lifecycle_policy_preview, patch_ecr_download_url_for_layer),
    "moto.kms.models": (patch_kms_schedule_deletion_by_arn,),
    "moto.elbv2.models": (
        patch_elbv2_alb_default_attributes,
        patch_elbv2_listeners_answer_http,
        patch_elbv2_dns_name_localhost,
        patch_elbv2_target_health_checked,
        patch_elbv2_targets_by_id_and_port,
    ),
    "moto.ecs.models": (
        patch_ecs_cluster_capacity_providers,
        patch_ecs_run_task_task_level_memory,
        patch_ecs_role_propagation,
        patch_ecs_runs_tasks,  # after 20b: wraps its run_task
        patch_ecs_services_schedule,
    ),
    "moto.applicationautoscaling.responses": (patch_application_autoscaling_tags,),
    "moto.iam.responses": (patch_iam_oidc_client_ids,),
}


class _PatchingLoader(importlib.abc.Loader):
    """Executes a module with its real loader, then applies that module's patches."""

    def __init__(self, loader: importlib.abc.Loader, patches: Sequence[Callable[[], None]]) -> None:
        self._loader = loader
        self._patches = patches

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        for patch in self._patches:
            patch()

    def __getattr__(self, name: str) -> Any:
        # Everything else (get_code, get_resource_reader...) is the real loader's business.
        return getattr(self._loader, name)


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Hands the patched modules to _PatchingLoader the first time they are imported."""

    def __init__(self, pending: dict[str, tuple[Callable[[], None], ...]]) -> None:
        self._pending = pending

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        patches = self._pending.pop(fullname, None)
        if patches is None:
            return None
        spec = importlib.util.find_spec(fullname)  # the real one: we no longer claim it
        if spec is not None and spec.loader is not None:
            spec.loader = _PatchingLoader(spec.loader, patches)
        return spec


def apply_patches() -> None:
    """Patch now what is loaded already, and the rest as soon as moto imports it."""
    pending = {}
    for module, patches in PATCHES.items():
        if module is None or module in sys.modules:
            for patch in patches:
                patch()
        else:
            pending[module] = patches
    sys.meta_path.insert(0, _PatchOnImport(pending))


def _stop_tasks_and_exit(signum: int, frame: Any) -> None:
    # ECS task processes are process groups of their own: they would outlive the server.
    ecs_runtime.kill_all()
    raise SystemExit(128 + signum)


def _add_request_latency(seconds: float) -> None:
    """DJANGO_ECS_EMULATOR_REQUEST_LATENCY_MS (benchmarks): each request answers that late."""
    if seconds <= 0:
        return
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    original = DomainDispatcherApplication.__call__

    def delayed_call(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        time.sleep(seconds)  # in the request's own server thread: requests wait side by side
        return original(self, environ, start_response)

    DomainDispatcherApplication.__call__ = delayed_call


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-p", "--port", type=int, required=True)
    port = parser.parse_args(argv).port
    apply_patches()
    # Imported after the patches, and always bound to loopback: never reachable from outside.
    from moto import server
    from moto.server import main as moto_main

    server.signal_handler = _stop_tasks_and_exit  # moto installs it for SIGINT and SIGTERM
    _add_request_latency(timing.request_latency())

    moto_main(["-H", LOOPBACK, "-p", str(port)])


if __name__ == "__main__":
    main()
