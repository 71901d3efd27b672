"""Row comparison for parity tests: equal values of different types are not the same result."""


def typed(rows: list[dict]) -> list[dict]:
    """Rows with each value's type beside it, so ``1 == 1.0 == Decimal(1)`` does not pass for equal
    (a served or computed path that changed a column's type has changed the report)."""
    return [{k: (type(v).__name__, v) for k, v in row.items()} for row in rows]
