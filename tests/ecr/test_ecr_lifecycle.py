"""The shared repository's lifecycle policy never expires an image an environment deploys.

Three environments share one repository (docs/delivery.md): dev deploys each new build, hml a
recent one, prod one released long ago. The policy is the role's own (roles/ecr/defaults), and
tools/emulator/ecr_lifecycle.py evaluates it the way the ECR User Guide documents (moto never
evaluates lifecycle policies)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2
import yaml

from tools.emulator.ecr_lifecycle import Image, expired, matches

DEFAULTS = Path(__file__).resolve().parents[2] / "roles" / "ecr" / "defaults" / "main.yml"
START = datetime(2026, 1, 1, tzinfo=UTC)


def role_policy(keep_images: int = 30) -> dict[str, Any]:
    """_ecr_lifecycle_policy as the role renders it."""
    defaults = yaml.safe_load(DEFAULTS.read_text())
    values = {
        "ecr_keep_images": keep_images,
        **{k: v for k, v in defaults.items() if k.startswith("_ecr_deployed")},
    }
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined)

    def render(value: Any) -> Any:
        if isinstance(value, str):
            return environment.from_string(value).render(values)
        if isinstance(value, list):
            return [render(item) for item in value]
        if isinstance(value, dict):
            return {key: render(item) for key, item in value.items()}
        return value

    return render(defaults["_ecr_lifecycle_policy"])


def build(number: int, *extra_tags: str) -> Image:
    sha = hashlib.sha1(str(number).encode()).hexdigest()
    digest = "sha256:" + hashlib.sha256(sha.encode()).hexdigest()
    return Image(digest, (sha, *extra_tags), START + timedelta(days=number))


def test_no_image_a_service_runs_expires() -> None:
    builds = 60
    prod, hml, dev = 5, 52, builds
    images = [
        build(
            n,
            *{prod: ["deployed-prod"], hml: ["deployed-hml"], dev: ["latest", "deployed-dev"]}.get(
                n, []
            ),
        )
        for n in range(1, builds + 1)
    ]
    untagged = Image("sha256:" + "0" * 64, (), START + timedelta(days=10))
    now = START + timedelta(days=builds, hours=1)

    gone = expired(role_policy(), [*images, untagged], now)

    running = {images[n - 1].digest for n in (prod, hml, dev)}
    assert running.isdisjoint(gone)
    # The policy still cleans up: builds beyond the newest 30 go, and untagged images.
    assert images[0].digest in gone
    assert untagged.digest in gone
    assert len(gone) == (builds - 30 - 1) + 1  # all but the newest 30 and prod's; the untagged one


def test_a_deployed_tag_protects_whatever_other_tags_the_image_has() -> None:
    policy = role_policy(keep_images=1)
    old = build(1, "deployed-prod", "latest")
    newer = [build(n) for n in range(2, 5)]
    gone = expired(policy, [old, *newer], START + timedelta(days=5))
    assert old.digest not in gone
    assert gone == {image.digest for image in newer[:-1]}


def test_prefix_list_needs_every_prefix_on_some_tag() -> None:
    # ECR User Guide: matched if all of the tags in the tagPrefixList are matched against any of
    # the image's tags.
    selection = {"tagStatus": "tagged", "tagPrefixList": ["deployed-", "v"]}
    assert matches(selection, Image("a", ("v1", "deployed-hml"), START))
    assert not matches(selection, Image("b", ("deployed-hml",), START))
    assert not matches({"tagStatus": "tagged", "tagPrefixList": ["v"]}, Image("c", (), START))
