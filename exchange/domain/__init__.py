"""Pure domain code: detection, redaction, bundles and audit maths.

Invariant: nothing under ``exchange.domain`` imports Flask, Celery or
SQLAlchemy. Every redaction and crypto decision lives here so it can be tested
without a server.
"""
