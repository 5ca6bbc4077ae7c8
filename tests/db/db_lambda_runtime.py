"""Run the built db_init zip the way Lambda does, on loopback.

moto's Lambda cannot execute code without Docker (it echoes the event back), so the tests serve
Lambda's Invoke API themselves: each request runs ``handler.handler`` in a fresh interpreter whose
import path starts with the unpacked zip (only boto3 comes from outside, as the Python 3.12 runtime
provides it). Answers follow the Invoke contract: the function's JSON, or ``X-Amz-Function-Error``
with ``{errorMessage, errorType}`` when it raised.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# The bootstrap a Lambda runtime does for a Python function, reduced to what matters here.
RUNTIME = """
import json, sys, traceback
try:
    import handler
    answer = handler.handler(json.loads(sys.stdin.read()), None)
    print(json.dumps({"ok": answer}))
except Exception as error:
    traceback.print_exc()
    print(json.dumps({"error": {"errorMessage": str(error), "errorType": type(error).__name__}}))
"""


def invoke_in_subprocess(
    package_root: Path, environment: Mapping[str, str], event: bytes
) -> tuple[dict | list | None, str | None]:
    """Run the handler once; returns (payload, function_error)."""
    completed = subprocess.run(
        [sys.executable, "-c", RUNTIME],
        input=event,
        capture_output=True,
        env={**environment, "PYTHONPATH": str(package_root)},
        cwd=package_root,
        timeout=120,
        check=False,
    )
    lines = completed.stdout.decode().strip().splitlines()
    if completed.returncode != 0 or not lines:
        message = completed.stderr.decode()[-2000:]
        return {"errorMessage": message, "errorType": "Runtime.ExitError"}, "Unhandled"
    outcome = json.loads(lines[-1])
    if "error" in outcome:
        return outcome["error"], "Unhandled"
    return outcome["ok"], None


@contextmanager
def lambda_endpoint(package_root: Path, environment: Mapping[str, str]) -> Iterator[str]:
    """A loopback Invoke endpoint for one function; yields its URL."""

    class InvokeHandler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if not self.path.endswith("/invocations"):
                self.send_error(404)
                return
            event = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            payload, function_error = invoke_in_subprocess(package_root, environment, event)
            body = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Amz-Executed-Version", "$LATEST")
            if function_error:
                self.send_header("X-Amz-Function-Error", function_error)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), InvokeHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
