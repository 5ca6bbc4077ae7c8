"""Engine-default parameters of RDS for PostgreSQL DB parameter groups.

AWS fills every new DB parameter group with the parameters of its family, each flagged
`Source: engine-default`; moto 5.2.5 creates groups empty, so
`amazon.aws.rds_instance_param_group` refuses `rds.force_ssl` as "not an available parameter".
The subset below covers what a Django-on-RDS deployment tunes (TLS, logging, timeouts,
extensions), with the metadata AWS returns for it in DescribeDBParameters.
"""

from __future__ import annotations

import copy
import re
from typing import Any

_BOOLEAN = {"DataType": "boolean", "AllowedValues": "0,1"}
_DYNAMIC = {"ApplyType": "dynamic", "IsModifiable": True}
_STATIC = {"ApplyType": "static", "IsModifiable": True}

# name -> (metadata, description); ParameterValue is added only where AWS shows a default.
_POSTGRES_PARAMETERS: dict[str, dict[str, Any]] = {
    "rds.force_ssl": {**_BOOLEAN, **_DYNAMIC, "Description": "Force SSL connections."},
    "ssl": {
        **_BOOLEAN,
        "ApplyType": "dynamic",
        "IsModifiable": False,
        "ParameterValue": "1",
        "Description": "Enables SSL connections.",
    },
    "log_min_duration_statement": {
        "DataType": "integer",
        "AllowedValues": "-1-2147483647",
        **_DYNAMIC,
        "Description": "(ms) Sets the minimum execution time above which statements will be "
        "logged.",
    },
    "log_connections": {**_BOOLEAN, **_DYNAMIC, "Description": "Logs each successful connection."},
    "log_disconnections": {
        **_BOOLEAN,
        **_DYNAMIC,
        "Description": "Logs end of a session, including duration.",
    },
    "log_statement": {
        "DataType": "string",
        "AllowedValues": "none,ddl,mod,all",
        **_DYNAMIC,
        "Description": "Sets the type of statements logged.",
    },
    "log_lock_waits": {**_BOOLEAN, **_DYNAMIC, "Description": "Logs long lock waits."},
    "log_temp_files": {
        "DataType": "integer",
        "AllowedValues": "-1-2147483647",
        **_DYNAMIC,
        "Description": "(kB) Log the use of temporary files larger than this number of kilobytes.",
    },
    "log_autovacuum_min_duration": {
        "DataType": "integer",
        "AllowedValues": "-1-2147483647",
        **_DYNAMIC,
        "ParameterValue": "10000",
        "Description": "(ms) Sets the minimum execution time above which autovacuum actions "
        "will be logged.",
    },
    "log_rotation_age": {
        "DataType": "integer",
        "AllowedValues": "1-1440",
        **_DYNAMIC,
        "ParameterValue": "60",
        "Description": "(min) Automatic log file rotation will occur after N minutes.",
    },
    "rds.log_retention_period": {
        "DataType": "integer",
        "AllowedValues": "1440-10080",
        **_DYNAMIC,
        "ParameterValue": "4320",
        "Description": "Amazon RDS for PostgreSQL will delete PostgreSQL log that are older "
        "than N minutes.",
    },
    "shared_preload_libraries": {
        "DataType": "list",
        "AllowedValues": "auto_explain,orafce,pgaudit,pglogical,pg_bigm,pg_cron,pg_hint_plan,"
        "pg_prewarm,pg_similarity,pg_stat_statements,pg_tle,pg_transport,plprofiler",
        **_STATIC,
        "ParameterValue": "pg_stat_statements",
        "Description": "Sets which shared libraries are preloaded at server start.",
    },
    "pgaudit.log": {
        "DataType": "list",
        "AllowedValues": "ddl,function,misc,read,role,write,none,all,-ddl,-function,-misc,"
        "-read,-role,-write",
        **_DYNAMIC,
        "Description": "Specifies which classes of statements will be logged by session "
        "audit logging.",
    },
    "idle_in_transaction_session_timeout": {
        "DataType": "integer",
        "AllowedValues": "0-2147483647",
        **_DYNAMIC,
        "Description": "(ms) Sets the maximum allowed duration of any idling transaction.",
    },
    "statement_timeout": {
        "DataType": "integer",
        "AllowedValues": "0-2147483647",
        **_DYNAMIC,
        "Description": "(ms) Sets the maximum allowed duration of any statement.",
    },
    "max_connections": {
        "DataType": "integer",
        "AllowedValues": "6-262143",
        **_STATIC,
        "ParameterValue": "LEAST({DBInstanceClassMemory/9531392},5000)",
        "Description": "Sets the maximum number of concurrent connections.",
    },
    "work_mem": {
        "DataType": "integer",
        "AllowedValues": "64-2147483647",
        **_DYNAMIC,
        "Description": "(kB) Sets the maximum memory to be used for query workspaces.",
    },
    "password_encryption": {
        "DataType": "string",
        "AllowedValues": "md5,scram-sha-256",
        **_DYNAMIC,
        "ParameterValue": "scram-sha-256",
        "Description": "Chooses the algorithm for encrypting passwords.",
    },
    "rds.logical_replication": {
        **_BOOLEAN,
        **_STATIC,
        "ParameterValue": "0",
        "Description": "Enables logical decoding.",
    },
    "track_io_timing": {
        **_BOOLEAN,
        **_DYNAMIC,
        "ParameterValue": "1",
        "Description": "Collects timing statistics for database I/O activity.",
    },
    "timezone": {
        "DataType": "string",
        **_DYNAMIC,
        "ParameterValue": "UTC",
        "Description": "Sets the time zone for displaying and interpreting time stamps.",
    },
    "client_encoding": {
        "DataType": "string",
        "AllowedValues": "BIG5,EUC_CN,EUC_JP,EUC_KR,EUC_TW,GBK,ISO_8859_5,LATIN1,LATIN2,"
        "SJIS,SQL_ASCII,UTF8,WIN1250,WIN1251,WIN1252",
        **_DYNAMIC,
        "ParameterValue": "UTF8",
        "Description": "Sets the clients character set encoding.",
    },
}

_POSTGRES_FAMILY = re.compile(r"^postgres(?P<major>\d+)$")
# RDS for PostgreSQL 15 and later enforce TLS by default (rds.force_ssl=1).
_FORCE_SSL_DEFAULT_SINCE = 15


def engine_default_parameters(family: str | None) -> dict[str, dict[str, Any]]:
    """The parameters a new DB parameter group of `family` starts with (empty if unknown)."""
    match = _POSTGRES_FAMILY.match((family or "").lower())
    if match is None:
        return {}
    major = int(match["major"])
    parameters = {}
    for name, metadata in _POSTGRES_PARAMETERS.items():
        parameter = copy.deepcopy(metadata)
        parameter.update(
            ParameterName=name,
            Source="engine-default",
            ApplyMethod="pending-reboot",
            MinimumEngineVersion=f"{major}.1",
            SupportedEngineModes=["provisioned"],
        )
        parameters[name] = parameter
    force_ssl = "1" if major >= _FORCE_SSL_DEFAULT_SINCE else "0"
    parameters["rds.force_ssl"]["ParameterValue"] = force_ssl
    return parameters


def is_known_family(family: str | None) -> bool:
    """True when AWS would have a `default.<family>` group we can synthesize."""
    return _POSTGRES_FAMILY.match((family or "").lower()) is not None
