"""Both modules through ansible-playbook: FQCN resolution, group/aws defaults, idempotence."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.playbooks.runner import PlaybookRun
from tests.playbooks.runner import run_playbook as run_repo_playbook

PLAYBOOK = """
- name: Publish the app image and register its task definition
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  module_defaults:
    group/aws:
      endpoint_url: "{{ lookup('ansible.builtin.env', 'AWS_ENDPOINT_URL') }}"
      region: us-east-1
  tasks:
    - name: Publish the image
      django_ecs.aws.ecr_image:
        repository: "%(repository)s"
        path: "%(layout)s"
        tag: sha-1
        additional_tags: [latest]
      register: app_image

    - name: Register the task definition pinned to the image digest
      django_ecs.aws.ecs_task_definition:
        family: "%(family)s"
        cpu: 256
        memory: 512
        network_mode: awsvpc
        requires_compatibilities: [FARGATE]
        container_definitions:
          - name: web
            image: "{{ app_image.image_uri }}"
            portMappings: [{containerPort: 8000}]
            environment:
              - {name: DB_PORT, value: 5432}
        tags: {Project: django-ecs}
"""


def run_playbook(playbook: Path, collection_path: Path) -> dict[str, Any]:
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=str(collection_path),
        ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
        ANSIBLE_LOCALHOST_WARNING="false",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
    )
    completed = subprocess.run(
        [Path(sys.executable).parent / "ansible-playbook", "-i", "localhost,", str(playbook)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-2000:]
    # Warnings and deprecations may print around the JSON document.
    output = completed.stdout
    document = output[output.index("{") : output.rindex("}") + 1]
    return json.loads(document)["stats"]["localhost"]


def test_publish_then_register_is_idempotent_through_ansible(
    collection_path: Path,
    aws_env: dict[str, str],
    ecr: Any,
    repository: str,
    make_oci_layout: Callable[..., Any],
    tmp_path: Path,
) -> None:
    image = make_oci_layout("app", [{"app/manage.py": b"print('hi')\n"}])
    family = f"test-djg-web-{uuid.uuid4().hex[:10]}"
    playbook = tmp_path / "publish.yml"
    playbook.write_text(
        PLAYBOOK % {"repository": repository, "layout": image.path, "family": family}
    )

    first = run_playbook(playbook, collection_path)
    second = run_playbook(playbook, collection_path)

    assert first["changed"] == 2 and first["failures"] == 0
    assert second["changed"] == 0 and second["ok"] == 2
    latest = ecr.batch_get_image(repositoryName=repository, imageIds=[{"imageTag": "latest"}])
    assert latest["images"][0]["imageId"]["imageDigest"] == image.digest


def test_image_playbook_publishes_a_prebuilt_archive_without_building(
    aws_env: dict[str, str],
    ecr: Any,
    repository: str,
    make_oci_layout: Callable[..., Any],
    tmp_path: Path,
) -> None:
    """What CI does: build once, then `playbooks/image.yml -e image_archive=...` per environment."""
    image = make_oci_layout("app", [{"app/manage.py": b"print('ci build')\n"}])
    build_cache = tmp_path / "cache"
    published = run_image_playbook(aws_env, repository, image.path, build_cache)
    again = run_image_playbook(aws_env, repository, image.path, build_cache)

    assert published.returncode == 0, published.output
    for tag in ("ci-0123abcd", "latest"):
        found = ecr.batch_get_image(repositoryName=repository, imageIds=[{"imageTag": tag}])
        assert found["images"][0]["imageId"]["imageDigest"] == image.digest
    assert not build_cache.exists(), "a prebuilt archive must not be built again"
    assert again.returncode == 0 and " changed=0 " in again.output, again.output


def run_image_playbook(
    aws_env: dict[str, str], repository: str, archive: Path, cache: Path
) -> PlaybookRun:
    return run_repo_playbook(
        "playbooks/image.yml",
        "local",
        "-e",
        json.dumps(
            {
                "image_archive": str(archive),
                "image_tag": "ci-0123abcd",
                "app_repository_name": repository,
                "app_manage_repository": False,
            }
        ),
        endpoint=aws_env["AWS_ENDPOINT_URL"],
        env={"XDG_CACHE_HOME": str(cache)},
    )
