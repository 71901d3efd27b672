"""Alembic migrations of the business database (a package so that installs carry them)."""
