#!/usr/bin/python
# Copyright: contributors to django_ecs.aws
# Apache License 2.0 (see galaxy.yml)
# Ansible wants DOCUMENTATION/EXAMPLES/RETURN before any import (ansible-test validate-modules).

from __future__ import annotations

DOCUMENTATION = r"""
module: ecr_image
short_description: Publish a container image to Amazon ECR without a Docker daemon
version_added: 0.1.0
description:
  - Pushes an image from an OCI image layout (directory or tar archive) or a C(docker save)
    archive to an ECR repository through the ECR layer-upload API (BatchCheckLayerAvailability,
    InitiateLayerUpload, UploadLayerPart, CompleteLayerUpload, PutImage). Only the layers the
    repository lacks are uploaded.
  - The manifest is stored byte for byte, so the digest ECR reports is the digest of the local
    manifest (the module passes C(imageDigest) and ECR verifies it).
  - Further tags (for example C(latest)) are added by a server-side retag, a PutImage of the same
    manifest; O(source_tag) or O(source_digest) retags an image already in the repository without
    any local files (redeploy an already published artifact).
  - Idempotent. When every tag already points at the image's digest nothing is uploaded and
    RV(ignore:changed) is false.
  - Why not amazon.aws or community.aws? Neither ships an image push. C(community.aws.ecs_ecr)
    manages repositories only and C(community.docker.docker_image) needs a Docker daemon, which
    the control node and CI runners of this project do not have. Builders that need no daemon
    (C(docker buildx --output type=oci), buildah, skopeo, umoci) all write OCI layouts.
  - Only single-platform images are pushed; from a multi-platform layout choose one with
    O(platform). Layers of a legacy C(docker save) archive are uploaded uncompressed, as stored.
author:
  - django_ecs.aws maintainers (!UNKNOWN)
options:
  repository:
    description: Name of the ECR repository. It must exist (see C(community.aws.ecs_ecr)).
    type: str
    required: true
    aliases: [repository_name]
  registry_id:
    description: Account ID of the registry, when it is not the caller's.
    type: str
  tag:
    description: Tag the image is published under, for example an immutable commit SHA.
    type: str
    required: true
  additional_tags:
    description:
      - More tags to point at the same image by server-side retag, for example C(latest).
    type: list
    elements: str
    default: []
  path:
    description:
      - Local image to publish, an OCI image layout directory, an OCI layout tar archive or a
        C(docker save) archive (optionally gzip-compressed).
      - Mutually exclusive with O(source_tag) and O(source_digest).
    type: path
  source_ref:
    description:
      - Which image of a layout holding several to publish, matched against the
        C(org.opencontainers.image.ref.name) or C(io.containerd.image.name) annotation (or the
        C(RepoTags) of a C(docker save) archive), as a full name or a tag.
    type: str
  platform:
    description: C(os/arch[/variant]) to pick from a multi-platform layout, e.g. C(linux/amd64).
    type: str
  source_tag:
    description:
      - Tag of an image already in O(repository) to publish under O(tag) and
        O(additional_tags), without local files. Fails when that tag does not exist.
      - Mutually exclusive with O(path) and O(source_digest).
    type: str
  source_digest:
    description:
      - Manifest digest (C(sha256:...)) of an image already in O(repository) to publish under
        O(tag) and O(additional_tags), without local files. Fails when no image has that digest.
      - Unlike O(source_tag), the image cannot change between the moment the digest was read
        and the retag, for example to point a tag at the exact image a task definition pins.
      - Mutually exclusive with O(path) and O(source_tag).
    type: str
  part_size:
    description:
      - Bytes per UploadLayerPart call, 5 MiB (V(5242880)) to 20 MiB, the limits ECR enforces.
        V(0) uses the part size ECR advises.
    type: int
    default: 0
notes:
  - Supports check mode; layer availability is still queried so the plan is exact. In check mode
    a repository that does not exist yet (a first deployment, whose repository task would create
    it) is not an error when publishing from O(path); every layer and tag would be uploaded, and
    RV(image_uri) is the one the new repository will have.
  - When a tag is immutable in the repository and already points at another image, the module
    fails before uploading anything (ECR would answer ImageTagAlreadyExistsException).
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Publish the image buildx wrote as an OCI layout, as the commit SHA and latest
  django_ecs.aws.ecr_image:
    repository: django-app
    path: "{{ playbook_dir }}/build/app-oci"
    tag: "{{ app_git_sha }}"
    additional_tags: [latest]
  register: app_image

- name: Redeploy an already published artifact under latest
  django_ecs.aws.ecr_image:
    repository: django-app
    source_tag: "{{ redeploy_sha }}"
    tag: latest

- name: Point deployed-prod at the exact image the service runs
  django_ecs.aws.ecr_image:
    repository: django-app
    source_digest: "{{ app_image.digest }}"
    tag: deployed-prod

- name: Task definitions reference the digest, not a tag
  ansible.builtin.debug:
    msg: "{{ app_image.image_uri }}"
"""

RETURN = r"""
digest:
  description: Digest of the image manifest, as ECR stores it.
  returned: success
  type: str
  sample: sha256:3b4f0b5c0c2b6f0d9e9e3b1a3f4d2c1b0a9f8e7d6c5b4a39281706f5e4d3c2b1
image_uri:
  description: Pull reference pinned by digest.
  returned: success
  type: str
  sample: 123456789012.dkr.ecr.us-east-1.amazonaws.com/django-app@sha256:3b4f...
repository_uri:
  description: URI of the repository.
  returned: success
  type: str
tags:
  description: Every tag that points at the image after the run (O(tag) first).
  returned: success
  type: list
  elements: str
tags_updated:
  description: Tags that were (or in check mode would be) pointed at the image by this run.
  returned: success
  type: list
  elements: str
uploaded_layers:
  description:
    - Digests of the blobs uploaded (or that would be), the image config included, since ECR
      stores it through the same layer API.
  returned: success
  type: list
  elements: str
skipped_layers:
  description: Digests of blobs ECR already had, so not uploaded.
  returned: success
  type: list
  elements: str
bytes_uploaded:
  description: Sum of the sizes of RV(uploaded_layers).
  returned: success
  type: int
repository_exists:
  description: False only in check mode, for a repository the run would create first.
  returned: success
  type: bool
manifest_media_type:
  description: Media type of the pushed manifest.
  returned: success
  type: str
"""

import contextlib
from typing import Any

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports a missing botocore itself
    from botocore.exceptions import BotoCoreError, ClientError

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.django_ecs.aws.plugins.module_utils import ecr_registry as registry
from ansible_collections.django_ecs.aws.plugins.module_utils.ecr_image_source import (
    ImageLayoutError,
    ImageSource,
    load_image_source,
)

ARGUMENT_SPEC: dict[str, Any] = {
    "repository": {"type": "str", "required": True, "aliases": ["repository_name"]},
    "registry_id": {"type": "str"},
    "tag": {"type": "str", "required": True},
    "additional_tags": {"type": "list", "elements": "str", "default": []},
    "path": {"type": "path"},
    "source_ref": {"type": "str"},
    "platform": {"type": "str"},
    "source_tag": {"type": "str"},
    "source_digest": {"type": "str"},
    "part_size": {"type": "int", "default": 0},
}
TAG_EXISTS_CODES = ["ImageTagAlreadyExistsException", "ImageAlreadyExistsException"]


class Published:
    """The image to publish: its manifest, and the local blobs when it comes from disk."""

    def __init__(
        self, manifest: str, media_type: str, digest: str, local: ImageSource | None
    ) -> None:
        self.manifest = manifest
        self.media_type = media_type
        self.digest = digest
        self.local = local


def resolve_source(module: AnsibleAWSModule, client: Any) -> Published:
    params = module.params
    if params["path"]:
        try:
            local = load_image_source(params["path"], params["source_ref"], params["platform"])
        except ImageLayoutError as exc:
            module.fail_json(msg=f"cannot read image at {params['path']}: {exc}")
        return Published(local.manifest.decode(), local.media_type, local.digest, local)
    if params["source_digest"]:
        image = registry.get_image_by_digest(
            client, params["repository"], params["registry_id"], params["source_digest"]
        )
        source = f"source digest {params['source_digest']}"
    else:
        image = registry.get_image_by_tag(
            client, params["repository"], params["registry_id"], params["source_tag"]
        )
        source = f"source tag {params['source_tag']}"
    if image is None:
        module.fail_json(
            msg=f"{source} not found in repository {params['repository']}: nothing to retag"
        )
    media_type = image.get("imageManifestMediaType") or "application/vnd.oci.image.manifest.v1+json"
    return Published(image["imageManifest"], media_type, image["imageId"]["imageDigest"], None)


def upload_missing(
    module: AnsibleAWSModule, client: Any, image: Published, needed: bool, exists: bool
) -> tuple[list[str], list[str], int]:
    """Returns (uploaded, skipped, bytes). Nothing is checked when no tag has to move."""
    blobs = image.local.blobs if image.local else ()
    if not needed or not blobs:
        return [], [b.digest for b in blobs], 0
    repository, registry_id = module.params["repository"], module.params["registry_id"]
    digests = [b.digest for b in blobs]
    # A repository still to be created (check mode) lacks every blob.
    missing = (
        registry.check_missing_blobs(client, repository, registry_id, digests)
        if exists
        else set(digests)
    )
    to_upload = [b for b in blobs if b.digest in missing]
    if not module.check_mode:
        for blob in to_upload:
            registry.upload_blob(client, repository, registry_id, blob, module.params["part_size"])
    uploaded = [b.digest for b in to_upload]
    skipped = [b.digest for b in blobs if b.digest not in missing]
    return uploaded, skipped, sum(b.size for b in to_upload)


def put_tags(module: AnsibleAWSModule, client: Any, image: Published, tags: list[str]) -> None:
    repository, registry_id = module.params["repository"], module.params["registry_id"]
    for tag in tags:
        try:
            registry.put_image(
                client,
                repository,
                registry_id,
                manifest=image.manifest,
                media_type=image.media_type,
                digest=image.digest,
                tag=tag,
            )
        except is_boto3_error_code(TAG_EXISTS_CODES):
            # Lost a race, or an immutable tag: fine only if the tag now holds our digest.
            now = registry.current_tag_digests(client, repository, registry_id, [tag]).get(tag)
            if now != image.digest:
                module.fail_json(
                    msg=registry.conflict_message(repository, {tag: str(now)}, image.digest)
                )


def planned_repository(module: AnsibleAWSModule) -> dict[str, Any]:
    """The repository a first deployment would create, as DescribeRepositories will show it."""
    account = module.params["registry_id"] or module.client("sts").get_caller_identity()["Account"]
    return {
        "repositoryUri": registry.repository_uri(
            account, module.region, module.params["repository"]
        )
    }


def read_repository(module: AnsibleAWSModule, client: Any) -> tuple[dict[str, Any], bool]:
    """(repository, exists). Only a check-mode push from local files may plan for a new one."""
    params = module.params
    try:
        return registry.describe_repository(
            client, params["repository"], params["registry_id"]
        ), True
    except is_boto3_error_code("RepositoryNotFoundException"):
        if not (module.check_mode and params["path"]):
            raise
    return planned_repository(module), False


def run(module: AnsibleAWSModule, client: Any) -> dict[str, Any]:
    params = module.params
    repository, exists = read_repository(module, client)
    image = resolve_source(module, client)
    tags = registry.wanted_tags(params["tag"], params["additional_tags"])
    current = (
        registry.current_tag_digests(client, params["repository"], params["registry_id"], tags)
        if exists
        else {}
    )
    plan = registry.plan_push(image.digest, tags, current, repository)
    if plan.conflicts:
        module.fail_json(
            msg=registry.conflict_message(params["repository"], plan.conflicts, image.digest)
        )
    uploaded, skipped, sent = upload_missing(module, client, image, plan.changed, exists)
    if not module.check_mode:
        put_tags(module, client, image, plan.tags_to_put)
    return {
        "changed": plan.changed,
        "digest": image.digest,
        "image_uri": f"{repository['repositoryUri']}@{image.digest}",
        "repository_uri": repository["repositoryUri"],
        "tags": tags,
        "tags_updated": plan.tags_to_put,
        "repository_exists": exists,
        "uploaded_layers": uploaded,
        "skipped_layers": skipped,
        "bytes_uploaded": sent,
        "manifest_media_type": image.media_type,
    }


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec=ARGUMENT_SPEC,
        mutually_exclusive=[("path", "source_tag", "source_digest")],
        required_one_of=[("path", "source_tag", "source_digest")],
        supports_check_mode=True,
    )
    if not registry.valid_part_size(module.params["part_size"]):
        module.fail_json(
            msg=f"part_size must be 0 (ECR's choice) or {registry.MIN_PART_SIZE} to "
            f"{registry.MAX_PART_SIZE} bytes"
        )
    client = module.client("ecr", retry_decorator=AWSRetry.jittered_backoff())
    try:
        result = run(module, client)
    except is_boto3_error_code("RepositoryNotFoundException") as exc:
        module.fail_json_aws(exc, msg=f"ECR repository {module.params['repository']} not found")
    except registry.RegistryError as exc:
        module.fail_json(msg=str(exc))
    except (BotoCoreError, ClientError) as exc:  # pylint: disable=duplicate-except
        module.fail_json_aws(exc, msg="ECR request failed")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
