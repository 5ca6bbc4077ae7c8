"""The image's recipe: lint, structure, build context, CA bundle pinning, read-only root.

No Docker engine here: the Dockerfile is linted (hadolint) and read, and the read-only
root file system is reproduced with a private mount namespace around the entry point.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import app_harness
import pytest
from app_harness import APP_DIR, ENTRYPOINT, AppDatabase, Server, subprocess_env, wait_live
from app_pgcluster import free_port

DOCKERFILE = APP_DIR / "Dockerfile"
FETCH_CA = APP_DIR / "docker" / "fetch_rds_ca.py"


def stages(text: str) -> list[str]:
    return re.split(r"^FROM ", text, flags=re.MULTILINE)[1:]


def test_hadolint_is_clean() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    result = subprocess.run(
        [hadolint, "--format", "json", str(DOCKERFILE)], check=False, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout or "[]") == []


def test_multi_stage_with_a_pinned_slim_base() -> None:
    text = DOCKERFILE.read_text()
    assert len(stages(text)) == 2
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, flags=re.MULTILINE)
    assert base is not None
    assert re.fullmatch(r"python:3\.12\.\d+-slim-\w+", base.group(1))


def test_final_stage_runs_unprivileged_with_healthcheck_and_entrypoint() -> None:
    final = stages(DOCKERFILE.read_text())[-1]
    assert re.search(r"^USER 10001:10001$", final, flags=re.MULTILINE)
    assert "http://127.0.0.1:8000/healthz" in final
    assert 'ENTRYPOINT ["/opt/app/docker-entrypoint.sh"]' in final
    assert 'CMD ["serve"]' in final
    assert "EXPOSE 8000" in final


def test_final_stage_installs_no_build_tools() -> None:
    final = stages(DOCKERFILE.read_text())[-1]
    for tool in ("apt-get", "gcc", "build-essential", "pip install", "apk "):
        assert tool not in final


def test_build_context_holds_only_what_the_image_copies() -> None:
    ignore = (APP_DIR / ".dockerignore").read_text().splitlines()
    assert ignore[[line.strip() for line in ignore].index("*")] == "*"
    included = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    copied = re.findall(r"^COPY (?!--from)(.+) \S+$", DOCKERFILE.read_text(), flags=re.MULTILINE)
    sources = {source for line in copied for source in line.split()}
    assert sources == included
    for source in sources:
        assert (APP_DIR / source).exists(), source


def _fetch_ca(url: str, sha256: str, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(FETCH_CA), "--url", url, "--sha256", sha256, "--out", str(out)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A stand-in for the RDS bundle: two CA certificates, as the real one has many.
    certs = app_harness.app_pgcluster.make_certificates(tmp_path_factory.mktemp("ca") / "tls")
    path = certs.ca_cert.parent / "bundle.pem"
    path.write_bytes(certs.ca_cert.read_bytes() + certs.other_ca_cert.read_bytes())
    return path


def test_ca_bundle_with_the_pinned_digest_is_installed(bundle: Path, tmp_path: Path) -> None:
    out = tmp_path / "certs" / "rds-global-bundle.pem"
    result = _fetch_ca(bundle.as_uri(), hashlib.sha256(bundle.read_bytes()).hexdigest(), out)
    assert result.returncode == 0, result.stderr
    assert "2 CA certificates" in result.stdout
    assert out.read_bytes() == bundle.read_bytes()


def test_ca_bundle_with_another_digest_fails_the_build(bundle: Path, tmp_path: Path) -> None:
    out = tmp_path / "bundle.pem"
    result = _fetch_ca(bundle.as_uri(), "0" * 64, out)
    assert result.returncode == 1
    assert "sha256 mismatch" in result.stderr
    assert not out.exists()


@pytest.mark.parametrize("pin", ["", "not-a-digest"])
def test_ca_bundle_without_a_valid_pin_fails_the_build(
    bundle: Path, tmp_path: Path, pin: str
) -> None:
    result = _fetch_ca(bundle.as_uri(), pin, tmp_path / "bundle.pem")
    assert result.returncode == 1
    assert "RDS_CA_BUNDLE_SHA256 must be" in result.stderr


def test_ca_bundle_that_is_not_pem_fails_the_build(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("<html>captive portal</html>\n")
    result = _fetch_ca(junk.as_uri(), hashlib.sha256(junk.read_bytes()).hexdigest(), tmp_path / "o")
    assert result.returncode == 1


def test_serves_with_a_read_only_root_file_system(
    app_database: AppDatabase, tmp_path: Path
) -> None:
    """As on Fargate with readonlyRootFilesystem: everything read-only except /tmp."""
    venv = Path(sys.executable).parent.parent
    port = free_port()
    mounts = " && ".join(
        f"mount --bind {path} {path} && mount -o remount,bind,ro {path}"
        for path in ("/", APP_DIR, venv)
    )
    # A checkout under /tmp (CI may clone there) would vanish under the fresh tmpfs: park it in
    # /run before anything turns read-only, and bind it back, read-only, on top of the tmpfs.
    under_tmp = [path for path in (APP_DIR, venv) if Path(path).is_relative_to("/tmp")]
    park = " && ".join(
        f"mkdir -p /run/ro-keep{i} && mount --bind {path} /run/ro-keep{i}"
        for i, path in enumerate(under_tmp)
    )
    restore = " && ".join(
        f"mkdir -p {path} && mount --bind /run/ro-keep{i} {path} && mount -o remount,bind,ro {path}"
        for i, path in enumerate(under_tmp)
    )
    script = " && ".join(
        part
        for part in (
            park,
            mounts,
            "mount -t tmpfs tmpfs /tmp",
            restore,
            f"! touch {APP_DIR}/write-probe 2>/dev/null",  # the sandbox really is read-only
            f"exec {ENTRYPOINT} serve",
        )
        if part
    )
    env = subprocess_env({**app_database.env, "HOME": "/tmp", "GUNICORN_BIND": f"127.0.0.1:{port}"})
    log_path = tmp_path / "ro.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    server = Server(process=process, base_url=f"http://127.0.0.1:{port}", log_path=log_path)
    try:
        wait_live(server, timeout=30)
        assert server.get("/")[0] == 200
        assert server.get("/readyz")[0] == 200
    finally:
        assert server.stop() == 0
    assert "Read-only file system" not in server.log()
    assert not (APP_DIR / "write-probe").exists()
