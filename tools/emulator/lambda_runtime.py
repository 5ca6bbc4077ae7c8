"""Run a Lambda function's handler in a Python process of its own, as Lambda's Python runtime does.

Two halves in one file. The moto server (`patch_lambda_runs_handler` in moto_patched.py) calls
`invoke()`: it unpacks the function's zip into a scratch directory, starts this same file as a
script in a fresh interpreter with the function's environment, waits at most the function's
Timeout and turns what happened into Invoke's answer and the function's log. Run as a script,
`main()` is the runtime inside that process: it imports `module.function` of the Handler setting
from the unpacked zip, calls it with the event and a context object, and writes the outcome to a
file (stdout and stderr are the function's log, as on Lambda).

The script half imports only the standard library: the function's process does not see the
repository, only the unpacked zip and then the interpreter's own site-packages.

Deviations from AWS (documented in tools/emulator/README.md):
- The interpreter is the emulator's own (`sys.executable`), whatever the function's Runtime says.
- After the zip, the emulator's site-packages are importable: on AWS only the runtime's boto3
  (and botocore, s3transfer...) is, so a dependency missing from the zip may still import here.
- Every invocation is a cold start in a new process: module state never carries over.
- The Timeout counts from the process start (init included); MemorySize is reported, not
  enforced; layers are not mounted; nothing isolates the network (VpcConfig is not applied).
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import importlib
import io
import json
import logging
import math
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RUNNER = Path(__file__).resolve()
REQUEST_FILE = "request.json"
EVENT_FILE = "event.json"
RESULT_FILE = "result.json"
UNHANDLED = "Unhandled"
LOG_TAIL_BYTES = 4096  # X-Amz-Log-Result: the last 4 KB of the log, as on AWS
# The runtime writes an error record as one log event: lines joined by CR, indented with NBSP.
ERROR_LINE_JOIN = "\r"
ERROR_INDENT = "\u00a0"
LOG_FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n"
# What Lambda's Python runtime sets besides the function's variables, which may override them.
PLATFORM_DEFAULTS = {
    "LANG": "en_US.UTF-8",
    "TZ": ":UTC",
    # No ~/.aws of whoever runs the emulator: a function has only its environment's credentials.
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


@dataclass(frozen=True)
class Function:
    """What Lambda knows of a function when it runs it."""

    name: str
    version: str
    invoked_arn: str
    handler: str
    runtime: str
    region: str
    memory_mb: int
    timeout_seconds: int
    log_group: str
    variables: Mapping[str, str] = field(default_factory=dict)
    zip_bytes: bytes = field(default=b"", repr=False)


@dataclass(frozen=True)
class Credentials:
    """The execution role's temporary credentials, as Lambda hands them to the function."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)


@dataclass(frozen=True)
class Invocation:
    """Invoke's answer (payload, X-Amz-Function-Error) and the invocation's log."""

    request_id: str
    log_stream: str
    payload: bytes
    function_error: str | None
    log: str

    @property
    def log_result(self) -> str:
        return log_tail(self.log)


@dataclass(frozen=True)
class Usage:
    """What the REPORT line says about one invocation."""

    duration_ms: float
    max_memory_mb: int | None = None
    init_ms: float | None = None
    timed_out: bool = False


# Server side: pure helpers -------------------------------------------------------------------
def event_payload(body: str | bytes | None) -> bytes:
    """The event to hand the handler; ValueError when Invoke's payload is not JSON."""
    raw = body.encode() if isinstance(body, str) else bytes(body or b"")
    if not raw.strip():
        return b"{}"  # Invoke without a payload: the handler gets an empty object
    json.loads(raw)
    return raw


def log_stream_name(version: str, now: datetime.datetime) -> str:
    """Named as Lambda names them: date, [version], an id of the execution environment."""
    return f"{now:%Y/%m/%d}/[{version}]{uuid.uuid4().hex}"


def function_environment(
    function: Function,
    log_stream: str,
    endpoint_url: str,
    credentials: Credentials,
    task_root: Path,
) -> dict[str, str]:
    """The function's process environment: built from scratch, never the emulator's own (which
    holds, among others, the PostgreSQL superuser's password)."""
    runtime_bin = str(Path(sys.executable).parent)  # Lambda's /var/lang/bin
    reserved = {
        "_HANDLER": function.handler,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.runtime}",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_REGION": function.region,
        "AWS_DEFAULT_REGION": function.region,
        "AWS_LAMBDA_FUNCTION_NAME": function.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": function.version,
        "AWS_LAMBDA_LOG_GROUP_NAME": function.log_group,
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
        "LAMBDA_TASK_ROOT": str(task_root),
        "AWS_ACCESS_KEY_ID": credentials.access_key_id,
        "AWS_SECRET_ACCESS_KEY": credentials.secret_access_key,
        "AWS_SESSION_TOKEN": credentials.session_token,
        # Not Lambda's: every SDK call of the handler goes to the emulator, never to AWS.
        "AWS_ENDPOINT_URL": endpoint_url,
    }
    return {
        "PATH": f"{runtime_bin}:/usr/local/bin:/usr/bin:/bin",
        **PLATFORM_DEFAULTS,
        **{str(name): str(value) for name, value in function.variables.items()},
        **reserved,
    }


def _json_bytes(document: Any) -> bytes:
    return json.dumps(document).encode()


def timeout_error(request_id: str, timeout_seconds: int) -> dict[str, str]:
    return {
        "errorType": "Sandbox.Timedout",
        "errorMessage": (
            f"RequestId: {request_id} Error: Task timed out after {timeout_seconds:.2f} seconds"
        ),
    }


def exit_error(request_id: str, exit_code: int) -> dict[str, str]:
    """The answer when the process ended without an outcome (sys.exit, os._exit, a signal)."""
    if exit_code < 0:
        detail = f"signal: {signal.Signals(-exit_code).name}"
    else:
        detail = f"exit status {exit_code}"
    return {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: {detail}",
    }


def answer(
    outcome: Mapping[str, Any] | None,
    request_id: str,
    timeout_seconds: int,
    exit_code: int,
    timed_out: bool,
) -> tuple[bytes, str | None]:
    """(payload, X-Amz-Function-Error) of Invoke for what the process left behind."""
    if timed_out:
        return _json_bytes(timeout_error(request_id, timeout_seconds)), UNHANDLED
    if outcome is None:
        return _json_bytes(exit_error(request_id, exit_code)), UNHANDLED
    if outcome.get("error") is not None:
        return _json_bytes(outcome["error"]), UNHANDLED
    return str(outcome["payload"]).encode(), None


def _utc_timestamp() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def report_line(request_id: str, memory_mb: int, usage: Usage) -> str:
    fields = [
        f"REPORT RequestId: {request_id}",
        f"Duration: {usage.duration_ms:.2f} ms",
        f"Billed Duration: {math.ceil(usage.duration_ms)} ms",
        f"Memory Size: {memory_mb} MB",
    ]
    if usage.max_memory_mb is not None:
        fields.append(f"Max Memory Used: {usage.max_memory_mb} MB")
    if usage.init_ms is not None:
        fields.append(f"Init Duration: {usage.init_ms:.2f} ms")
    if usage.timed_out:
        fields.append("Status: timeout")
    return "\t".join(fields)


def log_text(request_id: str, function: Function, output: str, usage: Usage) -> str:
    """The invocation's log as Lambda writes it: START, what the process wrote, END, REPORT."""
    lines = [f"START RequestId: {request_id} Version: {function.version}\n"]
    if output:
        lines.append(output if output.endswith("\n") else output + "\n")
    if usage.timed_out:
        seconds = f"{function.timeout_seconds:.2f}"
        lines.append(f"{_utc_timestamp()} {request_id} Task timed out after {seconds} seconds\n")
    lines.append(f"END RequestId: {request_id}\n")
    lines.append(report_line(request_id, function.memory_mb, usage) + "\n")
    return "".join(lines)


def log_tail(log: str, limit: int = LOG_TAIL_BYTES) -> str:
    """X-Amz-Log-Result: base64 of the log's last `limit` bytes."""
    return base64.b64encode(log.encode()[-limit:]).decode()


def log_events(log: str) -> list[str]:
    """CloudWatch events of a log: one per line, newline kept (as Lambda's are); an error record,
    its lines joined by CR, stays one event."""
    return [line + "\n" for line in log.split("\n") if line]


# Server side: the run ------------------------------------------------------------------------
def invoke(
    function: Function, event: bytes, endpoint_url: str, credentials: Credentials
) -> Invocation:
    """Run the handler once on `event` (JSON bytes) and answer as Lambda's Invoke does."""
    request_id = str(uuid.uuid4())
    log_stream = log_stream_name(function.version, datetime.datetime.now(datetime.UTC))
    with tempfile.TemporaryDirectory(prefix=f"lambda-{function.name}-") as scratch:
        task_root, work = _unpack(Path(scratch), function.zip_bytes)
        started = time.monotonic()
        _write_request(work, event, request_id, function, started_epoch=time.time())
        environment = function_environment(
            function, log_stream, endpoint_url, credentials, task_root
        )
        output, exit_code, timed_out = _run_process(
            work, task_root, environment, function.timeout_seconds
        )
        wall_ms = (time.monotonic() - started) * 1000
        outcome = _read_outcome(work / RESULT_FILE)
    payload, function_error = answer(
        outcome, request_id, function.timeout_seconds, exit_code, timed_out
    )
    usage = _usage(outcome, wall_ms, timed_out)
    log = log_text(request_id, function, output, usage)
    return Invocation(request_id, log_stream, payload, function_error, log)


def _unpack(scratch: Path, zip_bytes: bytes) -> tuple[Path, Path]:
    """The task root (Lambda's /var/task) and a private directory for the runtime's files."""
    task_root, work = scratch / "task", scratch / "runtime"
    task_root.mkdir()
    work.mkdir()
    # Not a zip: nothing to import, so the handler's import fails as it would on AWS.
    with contextlib.suppress(zipfile.BadZipFile), zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
        archive.extractall(task_root)  # zipfile drops absolute and `..` member paths
    return task_root, work


def _write_request(
    work: Path, event: bytes, request_id: str, function: Function, started_epoch: float
) -> None:
    (work / EVENT_FILE).write_bytes(event)
    request = {
        "request_id": request_id,
        "invoked_arn": function.invoked_arn,
        "deadline_ms": int((started_epoch + function.timeout_seconds) * 1000),
    }
    (work / REQUEST_FILE).write_text(json.dumps(request))


def _run_process(
    work: Path, task_root: Path, environment: Mapping[str, str], timeout_seconds: int
) -> tuple[str, int, bool]:
    """(log output, exit code, timed out). -I: neither PYTHON* variables, the user's site nor the
    current directory shape the import path; -u: what was printed survives a kill."""
    process = subprocess.Popen(
        [sys.executable, "-I", "-u", str(RUNNER), str(work)],
        cwd=task_root,
        env=dict(environment),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: a timeout kills what it started too
    )
    timed_out = False
    try:
        output, _ = process.communicate(timeout=timeout_seconds)
    except subprocess.TimeoutExpired:
        timed_out = True
        # The leader is not reaped yet, so the group id is still this invocation's.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
    return output.decode("utf-8", "replace"), process.returncode, timed_out


def _read_outcome(path: Path) -> dict[str, Any] | None:
    try:
        outcome = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    return outcome if isinstance(outcome, dict) else None


def _usage(outcome: Mapping[str, Any] | None, wall_ms: float, timed_out: bool) -> Usage:
    if timed_out or outcome is None:
        return Usage(duration_ms=wall_ms, timed_out=timed_out)
    return Usage(
        duration_ms=float(outcome.get("duration_ms", wall_ms)),
        max_memory_mb=outcome.get("max_memory_mb"),
        init_ms=outcome.get("init_ms"),
    )


# Function side: the runtime inside the function's process ------------------------------------
class RuntimeFaultError(Exception):
    """A runtime error (bad handler, import failure, unserialisable answer), not the handler's."""

    def __init__(self, error_type: str, message: str, trace: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace or []


class LambdaContext:
    """The `context` argument, with the attributes and method of Lambda's Python runtime."""

    def __init__(self, request_id: str, invoked_arn: str, deadline_ms: int) -> None:
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        # A string on Lambda too: the runtime reads it from the environment.
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.client_context = None
        self.identity = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(self._deadline_ms - int(time.time() * 1000), 0)

    def log(self, message: str) -> None:
        sys.stdout.write(str(message))


class _RequestIdFilter(logging.Filter):
    def __init__(self, request_id: str) -> None:
        super().__init__()
        self._request_id = request_id

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self._request_id
        return True


class _StdoutHandler(logging.Handler):
    """Lambda's handler on the root logger: formatted records to stdout, the function's log."""

    def emit(self, record: logging.LogRecord) -> None:
        sys.stdout.write(self.format(record))


def _set_up_logging(request_id: str) -> None:
    # As Lambda does: a handler on the root logger, which keeps Python's default level
    # (WARNING) until the function sets another one.
    formatter = logging.Formatter(LOG_FORMAT, "%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime
    handler = _StdoutHandler()
    handler.setFormatter(formatter)
    handler.addFilter(_RequestIdFilter(request_id))
    logging.getLogger().addHandler(handler)


def load_handler(setting: str) -> Callable[[Any, Any], Any]:
    """`module.function` of the Handler setting, imported as Lambda's runtime imports it."""
    module_name, _, function_name = setting.rpartition(".")
    if not module_name or not function_name:
        raise RuntimeFaultError("Runtime.MalformedHandlerName", f"Bad handler '{setting}'")
    if module_name.split(".")[0] in sys.builtin_module_names:
        raise RuntimeFaultError(
            "Runtime.BuiltInModuleConflict",
            f"Cannot use built-in module {module_name} as a handler module",
        )
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as error:
        message = f"Unable to import module '{module_name}': {error}"
        raise RuntimeFaultError("Runtime.ImportModuleError", message) from None
    except SyntaxError as error:
        trace = [f'  File "{error.filename}" Line {error.lineno}\n    {error.text}']
        message = f"Syntax error in module '{module_name}': {error}"
        raise RuntimeFaultError("Runtime.UserCodeSyntaxError", message, trace) from None
    handler = getattr(module, function_name, None)
    if handler is None:
        message = f"Handler '{function_name}' missing on module '{module_name}'"
        raise RuntimeFaultError("Runtime.HandlerNotFound", message)
    return handler  # type: ignore[no-any-return]


def error_document(error: BaseException, request_id: str) -> dict[str, Any]:
    """Invoke's payload for an error: {errorMessage, errorType, requestId, stackTrace}."""
    if isinstance(error, RuntimeFaultError):
        error_type, message, trace = error.error_type, error.message, error.trace
    else:
        frames = traceback.extract_tb(error.__traceback__)
        while frames and Path(frames[0].filename).resolve() == RUNNER:
            frames.pop(0)  # the runtime's own frames, as Lambda leaves its bootstrap out
        error_type, message = type(error).__name__, str(error)
        trace = traceback.format_list(frames)
    return {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": request_id,
        "stackTrace": trace,
    }


def _log_error(document: Mapping[str, Any]) -> None:
    lines = [f"[ERROR] {document['errorType']}: {document['errorMessage']}"]
    lines.append("Traceback (most recent call last):")
    for element in document["stackTrace"]:
        for line in str(element).splitlines():
            stripped = line.lstrip(" ")
            lines.append(ERROR_INDENT * (len(line) - len(stripped)) + stripped)
    sys.stdout.write(ERROR_LINE_JOIN.join(lines) + "\n")


def _call(handler: Callable[[Any, Any], Any], event: Any, context: LambdaContext) -> str:
    returned = handler(event, context)
    try:
        return json.dumps(returned)
    except (TypeError, ValueError) as error:
        raise RuntimeFaultError(
            "Runtime.MarshalError", f"Unable to marshal response: {error}"
        ) from None


def _max_memory_mb() -> int:
    """Peak resident memory of this process. Not ru_maxrss: on Linux that keeps the high-water
    mark of the address space replaced by exec, i.e. of the moto server that started us."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return math.ceil(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    peak_kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
    return math.ceil(int(peak_kib) / 1024)


def _ms_since(started: float) -> float:
    return (time.monotonic() - started) * 1000


def handle(request: Mapping[str, Any], event_file: Path) -> dict[str, Any]:
    """Import the handler and call it once: {payload or error, init_ms, duration_ms}."""
    request_id = request["request_id"]
    started = time.monotonic()
    try:
        handler = load_handler(os.environ["_HANDLER"])
    except Exception as error:
        failed = error_document(error, request_id)
        return {"error": failed, "init_ms": _ms_since(started), "duration_ms": 0.0}
    init_ms = _ms_since(started)
    started = time.monotonic()
    event = json.loads(event_file.read_bytes())
    context = LambdaContext(request_id, request["invoked_arn"], request["deadline_ms"])
    try:
        outcome = {"payload": _call(handler, event, context)}
    except Exception as error:
        outcome = {"error": error_document(error, request_id)}
    return {**outcome, "init_ms": init_ms, "duration_ms": _ms_since(started)}


def main(argv: list[str]) -> int:
    """The runtime: argv[0] is the invocation's private directory (request, event, result)."""
    work = Path(argv[0])
    request = json.loads((work / REQUEST_FILE).read_text())
    _set_up_logging(request["request_id"])
    sys.path.insert(0, os.environ["LAMBDA_TASK_ROOT"])  # the zip first, as on Lambda
    outcome = handle(request, work / EVENT_FILE)
    if "error" in outcome:
        _log_error(outcome["error"])
    outcome["max_memory_mb"] = _max_memory_mb()
    (work / RESULT_FILE).write_text(json.dumps(outcome))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
