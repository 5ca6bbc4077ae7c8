"""gunicorn as the image's user under Fargate's read-only root, with /tmp as ECS hands it over.

The task mounts an empty bind volume at /tmp. On Fargate it is owned by root with mode 0755,
unless the image declares the path a VOLUME: then the image's /tmp (owner and mode) is copied
into it (ECS "Use bind mounts"; containers-roadmap#938). gunicorn writes its workers' heartbeat
files there (gunicorn.conf.py: worker_tmp_dir). No Docker engine here: a private mount namespace
makes the root read-only and mounts /tmp as each case has it, then the entry point runs as the
Dockerfile's USER (setpriv), and is asked over real HTTP.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from app_harness import APP_DIR, ENTRYPOINT, Server, production_env, subprocess_env, wait_live
from app_pgcluster import free_port

CHECK_DB = {"DB_AUTH_MODE": "iam", "DB_HOST": "db.example.test", "DB_NAME": "appdb"}


def image_user() -> tuple[int, int]:
    """The final stage's USER uid:gid, the one place the image states it."""
    final = re.split(r"^FROM ", (APP_DIR / "Dockerfile").read_text(), flags=re.MULTILINE)[-1]
    match = re.search(r"^USER (\d+):(\d+)$", final, flags=re.MULTILINE)
    assert match, "the final stage needs a numeric USER uid:gid"
    return int(match.group(1)), int(match.group(2))


def sandbox_script(tmp_mount_options: str, uid: int, gid: int) -> str:
    """Read-only root, /tmp mounted with the given options, then exec the entry point as uid."""
    venv = Path(sys.executable).parent.parent
    interpreter = Path(sys.base_prefix)
    steps: list[str] = []
    # The venv's interpreter may live under root's 0700 home (pyenv): show the app user only
    # that directory, as an image's /usr/local would be.
    hidden = next(
        (p for p in interpreter.parents if p != Path("/") and not p.stat().st_mode & 1), None
    )
    if hidden is not None:
        steps += [
            f"mkdir -p /run/keep-home && mount --bind {hidden} /run/keep-home",
            f"mount -t tmpfs -o mode=0755 tmpfs {hidden}",
            f"mkdir -p {interpreter}",
            f"mount --bind /run/keep-home/{interpreter.relative_to(hidden)} {interpreter}",
        ]
    # A checkout under /tmp would vanish under the new /tmp: park it first, bind it back after.
    under_tmp = [p for p in (APP_DIR, venv) if p.is_relative_to("/tmp")]
    steps += [
        f"mkdir -p /run/keep{i} && mount --bind {p} /run/keep{i}" for i, p in enumerate(under_tmp)
    ]
    steps += [f"mount --bind {p} {p} && mount -o remount,bind,ro {p}" for p in ("/", APP_DIR, venv)]
    steps.append(f"mount -t tmpfs -o {tmp_mount_options} tmpfs /tmp")
    steps += [
        f"mkdir -p {p} && mount --bind /run/keep{i} {p} && mount -o remount,bind,ro {p}"
        for i, p in enumerate(under_tmp)
    ]
    drop = f"setpriv --reuid={uid} --regid={gid} --clear-groups --inh-caps=-all"
    steps.append(f"exec {drop} {ENTRYPOINT} serve")
    return " && ".join(steps)


def start(tmp_path: Path, tmp_mount_options: str) -> Server:
    uid, gid = image_user()
    port = free_port()
    env = subprocess_env(
        production_env(
            **CHECK_DB,
            DB_USER="app_user",
            HOME="/tmp",
            GUNICORN_BIND=f"127.0.0.1:{port}",
            GUNICORN_WORKERS="1",
        )
    )
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                sandbox_script(tmp_mount_options, uid, gid),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    return Server(process=process, base_url=f"http://127.0.0.1:{port}", log_path=log_path)


def test_gunicorn_cannot_boot_as_the_image_user_on_a_root_owned_tmp(tmp_path: Path) -> None:
    """An empty bind mount as Fargate makes it without a VOLUME: root, 0755."""
    server = start(tmp_path, "mode=0755,uid=0,gid=0")
    try:
        with pytest.raises(RuntimeError, match="gunicorn exited early"):
            wait_live(server, timeout=30)
    finally:
        server.stop()
    # The heartbeat file of the first worker (gunicorn.conf.py: worker_tmp_dir /tmp).
    assert "Permission denied: '/tmp/" in server.log(), server.log()


def test_serves_as_the_image_user_when_tmp_is_the_images_volume(tmp_path: Path) -> None:
    """The image's VOLUME /tmp, copied in by ECS: owned by the image's user, as the Dockerfile
    makes it (chown, chmod 0700, then VOLUME)."""
    uid, gid = image_user()
    dockerfile = (APP_DIR / "Dockerfile").read_text()
    assert f"chown {uid}:{gid} /tmp" in dockerfile and "chmod 0700 /tmp" in dockerfile
    server = start(tmp_path, f"mode=0700,uid={uid},gid={gid}")
    try:
        wait_live(server, timeout=30)
        assert server.get("/") == (200, "Hello, world!\n")
        assert server.get("/healthz", host="10.0.12.34", proto="http") == (200, "ok\n")
        master = Path(f"/proc/{server.process.pid}/status").read_text()
        assert re.search(rf"^Uid:\s+{uid}\s", master, flags=re.MULTILINE), master
    finally:
        assert server.stop() == 0
    assert "Read-only file system" not in server.log()
