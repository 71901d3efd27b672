"""The business-production database (业务生产数据库): the OLTP store behind the staff app.

Users and the audit trail live here today; applications, verification requests, approvals,
archives and funds follow. Every table carries ``updated_at`` so it can be mirrored into the
lake incrementally. The schema is owned by Alembic migrations (``migrations/``), never by
``create_all``.
"""
