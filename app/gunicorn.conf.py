"""gunicorn settings, every knob from the environment (see README.md).

Sized for small Fargate tasks: a few processes with a few threads each. Django keeps one
database connection per thread, so workers x threads is the connection count per task.
"""

from __future__ import annotations

import os
import sys

# The log formatter lives in the app package; gunicorn configures logging before it
# puts the working directory on sys.path.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


wsgi_app = "testapp.wsgi:application"
bind = [os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")]
workers = _int("GUNICORN_WORKERS", 2)
threads = _int("GUNICORN_THREADS", 4)
worker_class = "gthread" if threads > 1 else "sync"
# A worker silent for this long is killed and replaced.
timeout = _int("GUNICORN_TIMEOUT", 30)
# On SIGTERM, workers finish in-flight requests for this long. ECS sends SIGKILL after
# the container's stopTimeout (30 s by default): keep this below it.
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 25)
# Longer than the ALB's 60 s idle timeout, so the ALB (not gunicorn) closes idle
# keep-alive connections and never sends a request into a socket being closed (502).
keepalive = _int("GUNICORN_KEEPALIVE", 75)
# Recycle workers now and then; the jitter keeps them from restarting together.
max_requests = _int("GUNICORN_MAX_REQUESTS", 10000)
max_requests_jitter = max(1, max_requests // 10) if max_requests else 0

# Read-only root file system: only /tmp is writable. The heartbeat files go there, and
# the control socket (which defaults to $HOME/.gunicorn) is off.
worker_tmp_dir = os.environ.get("GUNICORN_WORKER_TMP_DIR", "/tmp")
control_socket_disable = True

# Only the ALB reaches the task (security group), and it sets X-Forwarded-*.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")

# Logs: JSON lines on stdout, access log included (see testapp.jsonlog).
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "testapp.jsonlog.JsonFormatter"}},
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "json",
        }
    },
    # gunicorn merges this over its defaults key by key: "root" must name our handler.
    "root": {"handlers": ["stdout"], "level": loglevel.upper()},
    "loggers": {
        "gunicorn.error": {"handlers": ["stdout"], "level": loglevel.upper(), "propagate": False},
        "gunicorn.access": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
    },
}
