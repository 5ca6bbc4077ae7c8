"""IAM database authentication on the emulated RDS instances (moto_patched item 26).

The real emulator, real PostgreSQL logins over verified TLS (psycopg, sslmode=verify-full):
a member of rds_iam gets in only with a token that credentials moto issued signed for this
endpoint and user, not expired, whose signer's policies allow rds-db:connect on the dbuser ARN.
Then the pure parts: the token parser, the SigV4 recomputation (against botocore's own
tokens), the claims, and the LDAP BER codec.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.auth
import psycopg
import pytest

from tools.emulator import iam_db_auth, ldap_bind

Aws = Callable[[str], Any]
REGION = "us-east-1"
ACCOUNT = "123456789012"
MASTER_PASSWORD = "master-Password1"
ADMIN_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
             "Action": "sts:AssumeRole"}
        ],
    }
)  # fmt: skip


@dataclass(frozen=True)
class Db:
    """One emulated instance with an IAM user (`iam_user`) and a password user (`pw_user`)."""

    identifier: str
    host: str
    port: int
    resource_id: str
    ca_bundle: str
    database: str
    iam_user: str
    other_iam_user: str
    pw_user: str

    def connect(self, user: str, password: str) -> psycopg.Connection[Any]:
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=user,
            password=password,
            dbname=self.database,
            sslmode="verify-full",
            sslrootcert=self.ca_bundle,
            connect_timeout=10,
        )

    def arn(self, user: str) -> str:
        return iam_db_auth.dbuser_arn(REGION, ACCOUNT, self.resource_id, user)


def _policy(effect: str, action: str, resource: str) -> str:
    statement = {"Effect": effect, "Action": action, "Resource": resource}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@pytest.fixture(scope="module")
def db(aws: Aws, emulator_env: dict[str, str]) -> Iterator[Db]:
    unique = uuid.uuid4().hex[:8]
    identifier = f"iam-{unique}"
    created = aws("rds").create_db_instance(
        DBInstanceIdentifier=identifier,
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        AllocatedStorage=20,
        MasterUsername="master_user",
        MasterUserPassword=MASTER_PASSWORD,
        DBName="appdb",
        EnableIAMDatabaseAuthentication=True,
    )["DBInstance"]
    described = aws("rds").describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]
    endpoint = created["Endpoint"]
    db = Db(
        identifier,
        endpoint["Address"],
        endpoint["Port"],
        described["DbiResourceId"],
        emulator_env["DJANGO_ECS_EMULATOR_CA_BUNDLE"],
        "appdb",
        f"app_{unique}",
        f"other_{unique}",
        f"pw_{unique}",
    )
    with db.connect("master_user", MASTER_PASSWORD) as session:
        for user in (db.iam_user, db.other_iam_user):
            # A password too: rds_iam must win over it, as on RDS.
            session.execute(f"CREATE ROLE {user} LOGIN PASSWORD 'user-Password1'")
            session.execute(f"GRANT rds_iam TO {user}")
        session.execute(f"CREATE ROLE {db.pw_user} LOGIN PASSWORD 'user-Password1'")
    yield db
    aws("rds").delete_db_instance(DBInstanceIdentifier=identifier, SkipFinalSnapshot=True)


def _role_credentials(aws: Aws, policies: dict[str, str] | None = None) -> dict[str, str]:
    """A new role with these inline policies, assumed: its temporary credentials."""
    name = f"dbrole-{uuid.uuid4().hex[:8]}"
    arn = aws("iam").create_role(RoleName=name, AssumeRolePolicyDocument=ADMIN_TRUST)["Role"]["Arn"]
    for policy_name, document in (policies or {}).items():
        aws("iam").put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=document)
    credentials = aws("sts").assume_role(RoleArn=arn, RoleSessionName="db")["Credentials"]
    return {
        "aws_access_key_id": credentials["AccessKeyId"],
        "aws_secret_access_key": credentials["SecretAccessKey"],
        "aws_session_token": credentials["SessionToken"],
    }


def _token(credentials: dict[str, str], db: Db, user: str, port: int | None = None) -> str:
    client = boto3.client("rds", region_name=REGION, **credentials)  # type: ignore[call-overload]
    return str(
        client.generate_db_auth_token(DBHostname=db.host, Port=port or db.port, DBUsername=user)
    )


@pytest.fixture
def moto_log(emulator_dir: Path) -> Path:
    return emulator_dir / "logs" / "moto.log"


def _assert_refused(db: Db, user: str, password: str, log: Path, reason: str) -> None:
    """PostgreSQL's usual authentication error, and the emulator log says why (and so proves
    the refusal came from the check meant, not from another one)."""
    logged = log.stat().st_size
    with pytest.raises(psycopg.OperationalError, match=f'authentication failed for user "{user}"'):
        db.connect(user, password).close()
    with open(log, encoding="utf-8", errors="replace") as handle:
        handle.seek(logged)
        assert reason in handle.read()


def _connect_policy(db: Db, user: str) -> dict[str, str]:
    return {"connect": _policy("Allow", "rds-db:connect", db.arn(user))}


NOT_ALLOWED = "is not allowed rds-db:connect on "
ROOT = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


# Accepted -------------------------------------------------------------------------------------
def test_role_allowed_rds_db_connect_logs_in_with_its_token(aws: Aws, db: Db) -> None:
    credentials = _role_credentials(aws, _connect_policy(db, db.iam_user))
    with db.connect(db.iam_user, _token(credentials, db, db.iam_user)) as session:
        query = "SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
        row = session.execute(query).fetchone()
    assert row == (db.iam_user, True)


def test_iam_user_with_attached_managed_policy_logs_in(aws: Aws, db: Db) -> None:
    iam = aws("iam")
    name = f"dbuser-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    policy = iam.create_policy(
        PolicyName=name, PolicyDocument=_policy("Allow", "rds-db:connect", db.arn("*"))
    )["Policy"]["Arn"]
    iam.attach_user_policy(UserName=name, PolicyArn=policy)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    credentials = {
        "aws_access_key_id": key["AccessKeyId"],
        "aws_secret_access_key": key["SecretAccessKey"],
    }
    db.connect(db.iam_user, _token(credentials, db, db.iam_user)).close()


def test_account_root_needs_no_policy(db: Db) -> None:
    db.connect(db.iam_user, _token(ROOT, db, db.iam_user)).close()


def test_password_users_keep_their_password(db: Db) -> None:
    db.connect(db.pw_user, "user-Password1").close()
    db.connect("master_user", MASTER_PASSWORD).close()


# Refused --------------------------------------------------------------------------------------
def test_rds_iam_member_cannot_use_its_password(db: Db, moto_log: Path) -> None:
    _assert_refused(db, db.iam_user, "user-Password1", moto_log, "not an RDS auth token")


def test_token_of_another_user_is_refused(db: Db, moto_log: Path) -> None:
    token = _token(ROOT, db, db.other_iam_user)
    _assert_refused(db, db.iam_user, token, moto_log, "DBUser is not the login user")


def test_token_for_another_endpoint_is_refused(db: Db, moto_log: Path) -> None:
    token = _token(ROOT, db, db.iam_user, port=db.port + 1)
    _assert_refused(db, db.iam_user, token, moto_log, f"signed for {db.host}:{db.port + 1}")


def test_expired_token_is_refused(db: Db, moto_log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The signer's clock 16 minutes back: the token's 900 s are over when it arrives.
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=16)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: past.replace(tzinfo=None))
    token = _token(ROOT, db, db.iam_user)
    monkeypatch.undo()
    _assert_refused(db, db.iam_user, token, moto_log, "the token has expired")


def test_role_without_policy_is_refused(aws: Aws, db: Db, moto_log: Path) -> None:
    credentials = _role_credentials(aws)
    _assert_refused(db, db.iam_user, _token(credentials, db, db.iam_user), moto_log, NOT_ALLOWED)


def test_role_allowed_only_generate_db_auth_token_is_refused(
    aws: Aws, db: Db, moto_log: Path
) -> None:
    # The original project's defect: rds:GenerateDbAuthToken is no permission to log in.
    policies = {"token": _policy("Allow", "rds:GenerateDbAuthToken", "*")}
    credentials = _role_credentials(aws, policies)
    _assert_refused(db, db.iam_user, _token(credentials, db, db.iam_user), moto_log, NOT_ALLOWED)


def test_policy_for_another_db_user_is_refused(aws: Aws, db: Db, moto_log: Path) -> None:
    credentials = _role_credentials(aws, _connect_policy(db, db.other_iam_user))
    _assert_refused(db, db.iam_user, _token(credentials, db, db.iam_user), moto_log, NOT_ALLOWED)


def test_explicit_deny_wins(aws: Aws, db: Db, moto_log: Path) -> None:
    policies = {
        **_connect_policy(db, db.iam_user),
        "deny": _policy("Deny", "rds-db:*", "*"),
    }
    credentials = _role_credentials(aws, policies)
    _assert_refused(db, db.iam_user, _token(credentials, db, db.iam_user), moto_log, NOT_ALLOWED)


def test_instance_without_iam_authentication_refuses_tokens(
    aws: Aws, db: Db, moto_log: Path
) -> None:
    rds = aws("rds")
    rds.modify_db_instance(
        DBInstanceIdentifier=db.identifier, EnableIAMDatabaseAuthentication=False
    )
    try:
        token = _token(ROOT, db, db.iam_user)
        _assert_refused(db, db.iam_user, token, moto_log, "IAM database authentication is not")
    finally:
        rds.modify_db_instance(
            DBInstanceIdentifier=db.identifier, EnableIAMDatabaseAuthentication=True
        )
    db.connect(db.iam_user, _token(ROOT, db, db.iam_user)).close()


def test_read_replica_checks_its_own_endpoint_and_resource_id(
    aws: Aws, db: Db, moto_log: Path
) -> None:
    rds = aws("rds")
    rds.create_db_instance_read_replica(
        DBInstanceIdentifier=f"{db.identifier}-ro", SourceDBInstanceIdentifier=db.identifier
    )
    try:
        (described,) = rds.describe_db_instances(DBInstanceIdentifier=f"{db.identifier}-ro")[
            "DBInstances"
        ]
        replica = dataclasses.replace(
            db,
            identifier=described["DBInstanceIdentifier"],
            port=described["Endpoint"]["Port"],
            resource_id=described["DbiResourceId"],
        )
        replica.connect(db.iam_user, _token(ROOT, replica, db.iam_user)).close()
        # A token for the source's endpoint, and a policy on the source's dbuser ARN, are not
        # the replica's: RDS signs and authorizes per instance.
        token = _token(ROOT, db, db.iam_user)
        _assert_refused(replica, db.iam_user, token, moto_log, f"signed for {db.host}:{db.port}")
        credentials = _role_credentials(aws, _connect_policy(db, db.iam_user))
        token = _token(credentials, replica, db.iam_user)
        _assert_refused(replica, db.iam_user, token, moto_log, NOT_ALLOWED)
    finally:
        rds.delete_db_instance(DBInstanceIdentifier=f"{db.identifier}-ro", SkipFinalSnapshot=True)


def test_token_signed_with_unknown_keys_is_refused(db: Db, moto_log: Path) -> None:
    strangers = {"aws_access_key_id": "AKIAUNKNOWN000000000", "aws_secret_access_key": "x" * 40}
    _assert_refused(
        db, db.iam_user, _token(strangers, db, db.iam_user), moto_log, "access key unknown"
    )


def test_token_with_a_wrong_secret_is_refused(db: Db, moto_log: Path) -> None:
    forged = {"aws_access_key_id": "testing", "aws_secret_access_key": "not-the-secret"}
    _assert_refused(
        db, db.iam_user, _token(forged, db, db.iam_user), moto_log, "signature does not"
    )


def test_user_without_rds_iam_cannot_log_in_with_a_token(db: Db, moto_log: Path) -> None:
    # The original project's other defect: the app user lacked rds_iam and used tokens.
    # Password (scram) authentication: the token is just a wrong password; no IAM check runs.
    _assert_refused(db, db.pw_user, _token(ROOT, db, db.pw_user), moto_log, "")


def test_refusals_are_logged_with_the_reason_never_the_token(
    aws: Aws, db: Db, moto_log: Path
) -> None:
    credentials = _role_credentials(aws)
    token = _token(credentials, db, db.iam_user)
    _assert_refused(db, db.iam_user, token, moto_log, NOT_ALLOWED)
    log = moto_log.read_text()
    assert f"refused {db.iam_user}@{db.host}:{db.port}: arn:aws:sts::{ACCOUNT}:assumed-role/" in log
    assert "is not allowed rds-db:connect on " + db.arn(db.iam_user) in log
    assert token.split("X-Amz-Signature=")[1] not in log


# The pure parts -------------------------------------------------------------------------------
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def _botocore_token(user: str = "app_user", host: str = "127.0.0.1", port: int = 5432) -> str:
    client = boto3.client(
        "rds",
        region_name="eu-west-3",
        aws_access_key_id="AKIAEXAMPLE",
        aws_secret_access_key=SECRET,
        aws_session_token="session/token+with=odd chars",
    )
    return str(client.generate_db_auth_token(DBHostname=host, Port=port, DBUsername=user))


def test_parse_token_reads_botocores_token() -> None:
    parsed = iam_db_auth.parse_token(_botocore_token())
    assert (parsed.host, parsed.db_user, parsed.access_key_id) == (
        "127.0.0.1:5432",
        "app_user",
        "AKIAEXAMPLE",
    )
    assert (parsed.region, parsed.expires) == ("eu-west-3", 900)
    assert parsed.security_token == "session/token+with=odd chars"


def test_expected_signature_is_botocores() -> None:
    parsed = iam_db_auth.parse_token(_botocore_token())
    assert iam_db_auth.expected_signature(parsed, SECRET) == parsed.signature
    assert iam_db_auth.expected_signature(parsed, SECRET + "x") != parsed.signature


def test_a_changed_parameter_breaks_the_signature() -> None:
    tampered = _botocore_token().replace("DBUser=app_user", "DBUser=admin")
    parsed = iam_db_auth.parse_token(tampered)
    assert iam_db_auth.expected_signature(parsed, SECRET) != parsed.signature


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("a-password", "host:port"),
        ("127.0.0.1:5432/?Action=connect&DBUser=u", "missing X-Amz-Algorithm"),
        ("127.0.0.1:5432/?Action=connect&Action=connect", "repeated"),
    ],
)
def test_parse_token_refuses_what_is_no_token(token: str, message: str) -> None:
    with pytest.raises(iam_db_auth.TokenError, match=message):
        iam_db_auth.parse_token(token)


def test_parse_token_refuses_another_service() -> None:
    token = _botocore_token().replace("%2Frds-db%2F", "%2Fs3%2F")
    with pytest.raises(iam_db_auth.TokenError, match="rds-db"):
        iam_db_auth.parse_token(token)


def test_claims_problem() -> None:
    parsed = iam_db_auth.parse_token(_botocore_token())
    now = parsed.signed_at + datetime.timedelta(seconds=10)
    check = iam_db_auth.claims_problem
    assert check(parsed, "127.0.0.1", 5432, "app_user", now) is None
    assert "5433" in str(check(parsed, "127.0.0.1", 5433, "app_user", now))
    assert "DBUser" in str(check(parsed, "127.0.0.1", 5432, "app_migrate", now))
    later = parsed.signed_at + datetime.timedelta(seconds=901)
    assert "expired" in str(check(parsed, "127.0.0.1", 5432, "app_user", later))
    earlier = parsed.signed_at - datetime.timedelta(minutes=6)
    assert "future" in str(check(parsed, "127.0.0.1", 5432, "app_user", earlier))


def test_claims_problem_refuses_a_lifetime_beyond_900_seconds() -> None:
    parsed = iam_db_auth.parse_token(_botocore_token().replace("Expires=900", "Expires=3600"))
    assert "900" in str(iam_db_auth.claims_problem(parsed, "127.0.0.1", 5432, "app_user",
                                                   parsed.signed_at))  # fmt: skip


def _bind_request(message_id: int, name: str, password: str) -> bytes:
    body = ldap_bind.encode(ldap_bind.INTEGER, b"\x03")
    body += ldap_bind.encode(ldap_bind.OCTET_STRING, name.encode())
    body += ldap_bind.encode(ldap_bind.SIMPLE_AUTH, password.encode())
    return ldap_bind.encode(ldap_bind.INTEGER, bytes((message_id,))) + ldap_bind.encode(
        ldap_bind.BIND_REQUEST, body
    )


def _result_code(reply: bytes | None) -> int:
    assert reply is not None
    ((tag, message),) = ldap_bind.decode_all(reply)
    assert tag == ldap_bind.SEQUENCE
    (_, message_id), (operation, result) = ldap_bind.decode_all(message)
    assert (message_id, operation) == (b"\x07", ldap_bind.BIND_RESPONSE)
    return ldap_bind.decode_all(result)[0][1][0]


def test_bind_answers_success_or_invalid_credentials() -> None:
    seen: list[tuple[str, str]] = []

    def check(name: str, password: str) -> bool:
        seen.append((name, password))
        return password == "good"

    token = "t" * 1500  # a token's size: long-form BER lengths
    assert _result_code(ldap_bind.answer(_bind_request(7, "u@h:1", "good"), check)) == 0
    assert _result_code(ldap_bind.answer(_bind_request(7, "u@h:1", token), check)) == 49
    assert _result_code(ldap_bind.answer(_bind_request(7, "u@h:1", ""), check)) == 49
    assert seen == [("u@h:1", "good"), ("u@h:1", token)]  # an empty password is never checked


def test_unbind_closes_the_connection() -> None:
    unbind = ldap_bind.encode(ldap_bind.INTEGER, b"\x02") + bytes((ldap_bind.UNBIND_REQUEST, 0))
    assert ldap_bind.answer(unbind, lambda name, password: True) is None


def test_ber_lengths_round_trip() -> None:
    for size in (0, 127, 128, 255, 256, 70000):
        ((tag, content),) = ldap_bind.decode_all(ldap_bind.encode(0x04, b"x" * size))
        assert (tag, len(content)) == (0x04, size)
    with pytest.raises(ldap_bind.BerError):
        ldap_bind.decode_all(b"\x04\x05abc")


def test_bind_server_answers_over_a_socket_and_hangs_up_on_unbind() -> None:
    server = ldap_bind.serve(lambda name, password: (name, password) == ("u@h:1", "good"))
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as client:
            stream = client.makefile("rb")
            for password, code in (("good", 0), ("bad", 49)):
                client.sendall(
                    ldap_bind.encode(ldap_bind.SEQUENCE, _bind_request(7, "u@h:1", password))
                )
                reply = ldap_bind.read_message(stream)
                assert reply is not None
                assert _result_code(ldap_bind.encode(ldap_bind.SEQUENCE, reply)) == code
            unbind = ldap_bind.encode(ldap_bind.INTEGER, b"\x08") + bytes(
                (ldap_bind.UNBIND_REQUEST, 0)
            )
            client.sendall(ldap_bind.encode(ldap_bind.SEQUENCE, unbind))
            assert stream.read() == b""  # the server closed the connection
    finally:
        server.shutdown()
        server.server_close()


def test_check_bind_refuses_and_logs_a_name_without_an_endpoint(
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = _botocore_token()
    with caplog.at_level(logging.WARNING, logger=iam_db_auth.__name__):
        assert not iam_db_auth.check_bind("app_user@127.0.0.1:notaport", token)
        assert not iam_db_auth.check_bind("app_user@127.0.0.1:5432", token)  # no such instance
    # Only this logger's records: an earlier test of the same worker may have set the root
    # logger to INFO, and botocore's INFO lines then reach caplog too.
    messages = [r.getMessage() for r in caplog.records if r.name == iam_db_auth.__name__]
    assert "does not end in @host:port" in messages[0]
    assert "no DB instance has the endpoint 127.0.0.1:5432" in messages[1]
    assert all(token not in message for message in messages)
