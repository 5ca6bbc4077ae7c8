"""Which images an ECR lifecycle policy expires: AWS's documented evaluation, as a pure function.

moto 5.2.5 stores lifecycle policies and never evaluates them (no StartLifecyclePolicyPreview),
so this follows the ECR User Guide ("Lifecycle policy evaluation rules" and "Lifecycle policy
properties", docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html):
- rules are applied by rulePriority, lowest first; an image is expired by exactly one or zero rules;
- "an image that matches the tagging requirements of a rule cannot be expired by a rule with a
  lower priority"; lower-priority rules still count such images ("can still identify them as if
  they haven't been expired") but never mark them;
- tagStatus `untagged` selects images without tags, `any` every image, `tagged` images for which
  every entry of tagPrefixList (or tagPatternList, `*` wildcards) matches one of the image's tags;
- expiration is ordered by pushed time, older images first: with imageCountMoreThan the images are
  sorted youngest first and all beyond countNumber expire; with sinceImagePushed the images pushed
  more than countNumber days ago expire.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class Image:
    digest: str
    tags: tuple[str, ...]
    pushed_at: datetime


def matches(selection: Mapping[str, Any], image: Image) -> bool:
    """Whether a rule's tagging requirements select the image."""
    status = selection["tagStatus"]
    if status == "any":
        return True
    if status == "untagged":
        return not image.tags
    if not image.tags:
        return False
    prefixes: Sequence[str] = selection.get("tagPrefixList") or ()
    patterns: Sequence[str] = selection.get("tagPatternList") or ()
    return all(any(tag.startswith(p) for tag in image.tags) for p in prefixes) and all(
        any(fnmatch.fnmatchcase(tag, pattern) for tag in image.tags) for pattern in patterns
    )


def _counted_out(selection: Mapping[str, Any], images: list[Image], now: datetime) -> list[Image]:
    count = int(selection["countNumber"])
    if selection["countType"] == "imageCountMoreThan":
        # Oldest first, a stable sort: images pushed in the same instant keep the given order
        # (the emulator passes them in push order), so the later push counts as the younger.
        oldest_first = sorted(images, key=lambda image: image.pushed_at)
        return oldest_first[: max(0, len(oldest_first) - count)]
    cutoff = now - timedelta(days=count)  # sinceImagePushed; countUnit is always days
    return [image for image in images if image.pushed_at < cutoff]


def expiring_rules(
    policy: Mapping[str, Any], images: Iterable[Image], now: datetime
) -> dict[str, int]:
    """The digests the policy expires, each with the rulePriority of the rule that expires it
    (GetLifecyclePolicyPreview's appliedRulePriority)."""
    images = list(images)
    claimed: set[str] = set()  # selected by a higher-priority rule: no lower rule may expire it
    expiring: dict[str, int] = {}
    for rule in sorted(policy["rules"], key=lambda rule: int(rule["rulePriority"])):
        selection = rule["selection"]
        selected = [image for image in images if matches(selection, image)]
        for image in _counted_out(selection, selected, now):
            if image.digest not in claimed:
                expiring.setdefault(image.digest, int(rule["rulePriority"]))
        claimed.update(image.digest for image in selected)
    return expiring


def expired(policy: Mapping[str, Any], images: Iterable[Image], now: datetime) -> set[str]:
    """The digests the policy expires."""
    return set(expiring_rules(policy, images, now))
