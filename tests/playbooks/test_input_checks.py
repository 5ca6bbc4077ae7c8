"""django_ecs.aws.input_checks: a role's checks in one task, each failing with its own message."""

from __future__ import annotations

from tests.playbooks.runner import run_playbook


def run_case(case: str) -> str:
    run = run_playbook("tests/playbooks/input_checks.yml", "local", "-e", f"case={case}")
    assert (run.returncode == 0) == (case == "pass"), run.output
    return run.output


def test_all_checks_hold_and_skipped_ones_are_not_evaluated() -> None:
    output = run_case("pass")
    assert "checked=2" in output, output


def test_the_first_failing_check_names_its_own_message() -> None:
    output = run_case("fail")
    assert "msg: name must be at most 2 letters; got 'web'" in output, output
    assert "assertion: checked_name | length <= _limit | int" in output, output
    assert "not this one" not in output and "nor a later one" not in output, output


def test_a_check_without_a_message_is_refused() -> None:
    output = run_case("malformed")
    assert "input_checks: check 0 needs 'that' and 'fail_msg'" in output, output
