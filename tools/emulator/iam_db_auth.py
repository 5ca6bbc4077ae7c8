"""IAM database authentication of the emulated RDS instances: the token is checked, not trusted.

On RDS a member of `rds_iam` logs in only with an IAM auth token: the SigV4-presigned URL that
botocore's `generate_db_auth_token` builds (`host:port/?Action=connect&DBUser=...&X-Amz-...`),
signed with the caller's credentials for the service `rds-db`, valid for 15 minutes, and
accepted when the signer's IAM policies allow `rds-db:connect` on
`arn:aws:rds-db:<region>:<account>:dbuser:<DbiResourceId>/<user>` (RDS User Guide, "Creating
and using an IAM policy for IAM database access"). Each instance's PostgreSQL hands such logins
to the emulator's LDAP bind server (ldap_bind.py, in the moto process), which calls
`verify_token` here: the parsing and signature functions are pure; the lookups read moto's
IAM, STS and RDS backends.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import logging
import sys
import threading
import urllib.parse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from tools.emulator import ldap_bind

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "rds-db"
ACTION = "rds-db:connect"
MAX_EXPIRES = 900  # generate_db_auth_token signs for 900 s; RDS accepts no longer lifetime
FUTURE_SKEW = datetime.timedelta(minutes=5)  # SigV4's tolerance for a signer's fast clock
AMZ_DATE = "%Y%m%dT%H%M%SZ"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
# The emulator's root credentials (what `scripts/emulator env` exports): the account root,
# which IAM policies do not restrict, as on AWS.
ROOT_ACCESS_KEY_ID = "testing"
ROOT_SECRET_ACCESS_KEY = "testing"
REQUIRED = (
    "Action",
    "DBUser",
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
)

log = logging.getLogger(__name__)


class TokenError(ValueError):
    """The token is not an RDS auth token; the message says why (never quotes a secret)."""


@dataclass(frozen=True)
class AuthToken:
    """The parts of an RDS IAM auth token that a check needs."""

    host: str  # the Host header that was signed: "127.0.0.1:5432"
    params: dict[str, str]  # decoded query parameters, X-Amz-Signature included
    access_key_id: str
    scope_date: str
    region: str
    signed_at: datetime.datetime
    expires: int

    @property
    def db_user(self) -> str:
        return self.params["DBUser"]

    @property
    def signature(self) -> str:
        return self.params["X-Amz-Signature"]

    @property
    def security_token(self) -> str | None:
        return self.params.get("X-Amz-Security-Token")


# Pure parsing and checking -------------------------------------------------------------------
def parse_token(token: str) -> AuthToken:
    """Split a token into its signed parts; TokenError if it is not shaped like RDS's."""
    url = urllib.parse.urlsplit("https://" + token)
    if not url.netloc or url.path != "/" or url.fragment:
        raise TokenError("not a presigned URL of the form host:port/?query")
    params = _query_params(url.query)
    missing = [name for name in REQUIRED if name not in params]
    if missing:
        raise TokenError(f"missing {', '.join(missing)}")
    if params["Action"] != "connect":
        raise TokenError("Action is not connect")
    if params["X-Amz-Algorithm"] != ALGORITHM or params["X-Amz-SignedHeaders"] != "host":
        raise TokenError("not signed with AWS4-HMAC-SHA256 over the host header")
    access_key_id, scope_date, region = _credential_scope(params["X-Amz-Credential"])
    signed_at = _amz_date(params["X-Amz-Date"])
    if signed_at.strftime("%Y%m%d") != scope_date:
        raise TokenError("the credential scope's date is not X-Amz-Date's")
    try:
        expires = int(params["X-Amz-Expires"])
    except ValueError:
        raise TokenError("X-Amz-Expires is not a number") from None
    return AuthToken(url.netloc, params, access_key_id, scope_date, region, signed_at, expires)


def _query_params(query: str) -> dict[str, str]:
    try:
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise TokenError("the query string is malformed") from None
    params = dict(pairs)
    if len(params) != len(pairs):
        raise TokenError("a query parameter is repeated")
    return params


def _credential_scope(credential: str) -> tuple[str, str, str]:
    parts = credential.split("/")
    if len(parts) != 5 or parts[3] != SERVICE or parts[4] != "aws4_request" or not parts[0]:
        raise TokenError("X-Amz-Credential is not <key>/<date>/<region>/rds-db/aws4_request")
    return parts[0], parts[1], parts[2]


def _amz_date(value: str) -> datetime.datetime:
    try:
        parsed = datetime.datetime.strptime(value, AMZ_DATE)
    except ValueError:
        raise TokenError("X-Amz-Date is not yyyymmddThhmmssZ") from None
    return parsed.replace(tzinfo=datetime.UTC)


def _uri_encode(value: str) -> str:
    # SigV4's UriEncode: everything but the unreserved characters, space as %20.
    return urllib.parse.quote(value, safe="-_.~")


def canonical_request(token: AuthToken) -> str:
    """SigV4's canonical request of the presigned GET (an empty body's hash, as botocore signs
    generate_db_auth_token's request)."""
    pairs = sorted(
        (_uri_encode(key), _uri_encode(value))
        for key, value in token.params.items()
        if key != "X-Amz-Signature"
    )
    query = "&".join(f"{key}={value}" for key, value in pairs)
    return "\n".join(("GET", "/", query, f"host:{token.host}", "", "host", EMPTY_SHA256))


def expected_signature(token: AuthToken, secret_access_key: str) -> str:
    """The signature a holder of `secret_access_key` would have put in the token."""
    scope = f"{token.scope_date}/{token.region}/{SERVICE}/aws4_request"
    digest = hashlib.sha256(canonical_request(token).encode()).hexdigest()
    string_to_sign = "\n".join((ALGORITHM, token.params["X-Amz-Date"], scope, digest))
    key = ("AWS4" + secret_access_key).encode()
    for part in (token.scope_date, token.region, SERVICE, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def claims_problem(
    token: AuthToken, host: str, port: int, user: str, now: datetime.datetime
) -> str | None:
    """Why the token is not meant for `user` at host:port right now (None: it is)."""
    if token.host != f"{host}:{port}":
        return f"the token was signed for {token.host}, not {host}:{port}"
    if token.db_user != user:
        return "the token's DBUser is not the login user"
    if not 0 < token.expires <= MAX_EXPIRES:
        return f"X-Amz-Expires must be 1 to {MAX_EXPIRES} seconds"
    if token.signed_at > now + FUTURE_SKEW:
        return "the token is dated in the future"
    if now > token.signed_at + datetime.timedelta(seconds=token.expires):
        return "the token has expired"
    return None


def dbuser_arn(region: str, account_id: str, dbi_resource_id: str, user: str) -> str:
    return f"arn:aws:rds-db:{region}:{account_id}:dbuser:{dbi_resource_id}/{user}"


# Lookups in moto's backends ------------------------------------------------------------------
@dataclass(frozen=True)
class Signer:
    """Whose credentials signed the token, as moto knows them."""

    arn: str
    secret_access_key: str
    policies: tuple[Any, ...]  # moto IAM policies (documents or Policy objects)
    is_root: bool = False
    session_policy: str | None = None  # AssumeRole's Policy: the role's rights narrowed to it

    def allows(self, action: str, resource: str) -> bool:
        """moto's evaluation: an explicit Deny wins, else some Allow is needed."""
        if self.is_root:
            return True
        if not _permitted(self.policies, action, resource):
            return False
        return self.session_policy is None or _permitted((self.session_policy,), action, resource)


def _permitted(policies: Iterable[Any], action: str, resource: str) -> bool:
    from moto.iam.access_control import IAMPolicy, PermissionResult

    results = [IAMPolicy(policy).is_action_permitted(action, resource) for policy in policies]
    return PermissionResult.PERMITTED in results and PermissionResult.DENIED not in results


def find_signer(account_id: str, token: AuthToken) -> Signer | str:
    """The signer of `token` among the credentials this emulator issued in `account_id`
    (IAM users' access keys, AssumeRole's temporary credentials, the root's), or why not."""
    from moto.iam.access_control import CreateAccessKeyFailure, create_access_key

    if token.access_key_id == ROOT_ACCESS_KEY_ID:
        return _root_signer(account_id)
    headers = {"X-Amz-Security-Token": token.security_token} if token.security_token else {}
    try:
        key = create_access_key(account_id, "aws", token.access_key_id, headers)  # type: ignore[arg-type]
    except CreateAccessKeyFailure as failure:
        return f"access key unknown to this account or wrong security token ({failure.reason})"
    session_policy, expired = _assumed_role_session(account_id, token.access_key_id)
    if expired:
        return "the signer's temporary credentials have expired"
    return Signer(
        arn=key.arn,
        secret_access_key=key.create_credentials().secret_key,
        policies=tuple(key.collect_policies()),
        session_policy=session_policy,
    )


def _root_signer(account_id: str) -> Signer | str:
    from moto.core import DEFAULT_ACCOUNT_ID

    if account_id != DEFAULT_ACCOUNT_ID:
        return "the emulator's root credentials belong to another account"
    return Signer(f"arn:aws:iam::{account_id}:root", ROOT_SECRET_ACCESS_KEY, (), is_root=True)


def _assumed_role_session(account_id: str, access_key_id: str) -> tuple[str | None, bool]:
    """AssumeRole's session policy and whether the credentials have expired."""
    from moto.sts.models import sts_backends

    for assumed in sts_backends[account_id]["aws"].assumed_roles:
        if assumed.access_key_id == access_key_id:
            expiration = assumed.expiration.replace(tzinfo=datetime.UTC)
            return assumed.policy or None, expiration < _now()
    return None, False


@dataclass(frozen=True)
class Instance:
    account_id: str
    region: str
    identifier: str
    dbi_resource_id: str
    iam_enabled: bool  # EnableIAMDatabaseAuthentication


def instance_at(host: str, port: int) -> Instance | None:
    """The emulated DB instance whose endpoint is host:port."""
    for instance in _db_instances():
        endpoint = instance.endpoint or {}
        if endpoint.get("Address") == host and endpoint.get("Port") == port:
            return Instance(
                instance.account_id,
                instance.region,
                instance.db_instance_identifier,
                instance.dbi_resource_id,
                bool(instance.iam_database_authentication_enabled),
            )
    return None


def _db_instances() -> Iterator[Any]:
    from moto.rds.models import rds_backends

    for regions in list(rds_backends.values()):
        for backend in list(regions.values()):
            yield from list(backend.databases.values())


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


# The interface -------------------------------------------------------------------------------
def verify_token(token: str, host: str, port: int, user: str) -> str | None:
    """None when `token` lets `user` log in to the DB instance at host:port, else the reason."""
    instance = instance_at(host, port)
    if instance is None:
        return f"no DB instance has the endpoint {host}:{port}"
    if not instance.iam_enabled:
        return f"IAM database authentication is not enabled on {instance.identifier}"
    try:
        parsed = parse_token(token)
    except TokenError as error:
        return f"not an RDS auth token: {error}"
    problem = claims_problem(parsed, host, port, user, _now())
    if problem is None and parsed.region != instance.region:
        problem = f"the token was signed for {parsed.region}, the instance is in {instance.region}"
    return problem or _signer_problem(parsed, instance, user)


def _signer_problem(token: AuthToken, instance: Instance, user: str) -> str | None:
    signer = find_signer(instance.account_id, token)
    if isinstance(signer, str):
        return signer
    expected = expected_signature(token, signer.secret_access_key)
    if not hmac.compare_digest(token.signature, expected):
        return "the signature does not match the access key's secret"
    resource = dbuser_arn(instance.region, instance.account_id, instance.dbi_resource_id, user)
    if not signer.allows(ACTION, resource):
        return f"{signer.arn} is not allowed {ACTION} on {resource}"
    return None


def check_bind(name: str, password: str) -> bool:
    """The LDAP server's question: may `name` (user@host:port, from pg_hba's ldapsuffix) bind
    with `password` (the token)? Logs each refusal's reason, never the token."""
    user, _, endpoint = name.rpartition("@")
    host, _, port = endpoint.rpartition(":")
    if not (user and host and port.isdigit()):
        reason: str | None = f"the bind name {name!r} does not end in @host:port"
    else:
        try:
            reason = verify_token(password, host, int(port), user)
        except Exception as error:  # a lookup failing must refuse the login, not accept it
            reason = f"the check failed: {error.__class__.__name__}: {error}"
    if reason is not None:
        log.warning("IAM database authentication refused %s: %s", name, reason)
    return reason is None


_server_lock = threading.Lock()
_servers: list[ldap_bind.BindServer] = []  # at most one: this process's


def start_server() -> int:
    """Start the LDAP bind server once per process; its loopback port."""
    with _server_lock:
        if not _servers:
            handler = logging.StreamHandler(sys.stderr)  # the emulator log (moto's output)
            handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s"))
            log.addHandler(handler)
            log.setLevel(logging.INFO)
            _servers.append(ldap_bind.serve(check_bind))
        return _servers[0].port


def server_port() -> int | None:
    """The LDAP bind server's port, None when it does not run (plain moto, unit tests)."""
    return _servers[0].port if _servers else None
