"""The Dagster code location: definitions only; the work is done by the packages below it."""
