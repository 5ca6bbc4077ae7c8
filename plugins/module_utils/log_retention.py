"""CloudWatch Logs' retention periods: the one list every role's input check reads.

botocore's logs service model, shape ``Days`` (PutRetentionPolicy ``retentionInDays``): "Possible
values are: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
2922, 3288, and 3653." Any other number is refused by AWS (InvalidParameterException).
"""

from __future__ import annotations

RETENTION_DAYS: tuple[int, ...] = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip


def is_retention_days(value: object) -> bool:
    """Whether value (an int or its text, as inventories give it) is an allowed retention."""
    text = str(value).strip()
    return text.isdigit() and int(text) in RETENTION_DAYS
