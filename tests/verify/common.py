"""What every layer's boto3 checker shares: the required tags, the failure collector, the report."""

from __future__ import annotations

from dataclasses import dataclass, field

REQUIRED_TAGS = ("Project", "Owner", "ManagedBy", "Confidentiality", "Environment")


@dataclass
class Checker:
    """Collects failed checks instead of stopping at the first, so one run lists them all."""

    failures: list[str] = field(default_factory=list)

    def check(self, condition: bool, message: str) -> None:
        if not condition:
            self.failures.append(message)


def report(failures: list[str]) -> int:
    """Print one line per failed check and return the process exit code."""
    for failure in failures:
        print(f"FAIL: {failure}")
    print(f"{len(failures)} failed checks")
    return 1 if failures else 0
