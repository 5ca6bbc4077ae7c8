"""Bad observability input fails before any AWS call, naming the variable and the expected form.

The endpoint is a dead loopback port: had any task reached AWS, the output would say
"Could not connect to the endpoint URL".
"""

from __future__ import annotations

import pytest

from tests.playbooks.runner import run_playbook

PLAYBOOK = "tests/playbooks/observability.yml"


def assert_fails_before_aws(extra_vars: list[str], *expected: str) -> None:
    args = [arg for pair in (("-e", value) for value in extra_vars) for arg in pair]
    run_playbook(PLAYBOOK, "local", *args).assert_failed_before_aws(*expected)


@pytest.mark.parametrize("emails", ['["alerts-dev"]', '["ops@example.com", "two@@example.com"]'])
def test_invalid_alert_email_is_rejected(emails: str) -> None:
    assert_fails_before_aws(
        [f'{{"alert_emails": {emails}}}'], "alert_emails (observability_alert_emails) must be"
    )


def test_no_alert_email_is_rejected() -> None:
    assert_fails_before_aws(['{"alert_emails": []}'], "must be a non-empty list of e-mail")


@pytest.mark.parametrize("days", ["8", "4000"])
def test_retention_outside_cloudwatch_values_is_rejected(days: str) -> None:
    assert_fails_before_aws(
        [f"log_retention_days={days}"],
        "log_retention_days (observability_log_retention_days) must be one of",
        f"got '{days}'",
    )


THRESHOLDS_OUT_OF_RANGE = [
    ("observability_ecs_cpu_threshold", "150", "between 1 and 100, got '150'"),
    ("observability_alb_5xx_threshold", "-1", "between 0 and 1000000, got '-1'"),
    ("observability_ecs_evaluation_periods", "0", "between 1 and 100, got '0'"),
]


def test_thresholds_out_of_range_are_rejected_each_by_name() -> None:
    """One run for the three: the thresholds are one looped check, which runs every item and
    prints each failing item's message before failing the task, so each variable is named only
    if its own item failed."""
    assert_fails_before_aws(
        [f"{variable}={value}" for variable, value, _ in THRESHOLDS_OUT_OF_RANGE],
        *(
            f"{variable} must be a number {message}"
            for variable, _, message in THRESHOLDS_OUT_OF_RANGE
        ),
    )


def test_aws_managed_sns_key_is_refused_as_alarms_could_not_publish() -> None:
    assert_fails_before_aws(
        ["observability_topic_kms_key_id=alias/aws/sns"],
        "observability_topic_kms_key_id must not be alias/aws/sns",
    )


def test_alarm_period_not_a_multiple_of_a_minute_is_rejected() -> None:
    assert_fails_before_aws(
        ["observability_alarm_period_seconds=90"],
        "observability_alarm_period_seconds must be 10, 30 or a multiple of 60 seconds",
    )
