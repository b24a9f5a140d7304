"""jobs and findings: per-file job state and leases, the outbox, pending blobs,
findings in their own table

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 05:10:00.000000

The JSON column ``case_files.findings`` is moved into ``findings`` rows (one
per finding) and dropped, so reading a case never loads its findings.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("lease_owner", sa.String(length=64), nullable=True))
    with op.batch_alter_table("case_files", schema=None) as batch_op:
        batch_op.add_column(sa.Column("run", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("lease_owner", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("finding_counts", sa.JSON(), nullable=True))
    # The defaults only filled existing rows; the models set these values themselves.
    with op.batch_alter_table("case_files", schema=None) as batch_op:
        batch_op.alter_column("run", server_default=None)
        batch_op.alter_column("attempts", server_default=None)

    findings = op.create_table(
        "findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("file_id", sa.String(length=36), nullable=False),
        sa.Column("page", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("entity_type", sa.String(length=60), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("start", sa.Integer(), nullable=False),
        sa.Column("end", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("recognizer", sa.String(length=100), nullable=True),
        sa.Column("explanation", sa.Text(), nullable=True),
        sa.Column("suggestion", sa.Boolean(), nullable=False),
        sa.Column("decisions", sa.JSON(), nullable=True),
        sa.Column("reasons", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["file_id"], ["case_files.id"], name=op.f("fk_findings_file_id_case_files"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_findings")),
    )
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_findings_file_id"), ["file_id"], unique=False)

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task", sa.String(length=100), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_created_at"), ["created_at"], unique=False)
    op.create_table(
        "pending_blobs",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_pending_blobs")),
    )
    with op.batch_alter_table("pending_blobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pending_blobs_created_at"), ["created_at"], unique=False)

    _move_findings(findings)
    with op.batch_alter_table("case_files", schema=None) as batch_op:
        batch_op.drop_column("findings")


def _move_findings(findings: sa.Table) -> None:
    bind = op.get_bind()
    old = sa.table("case_files", sa.column("id", sa.String()), sa.column("findings", sa.JSON()))
    counts_table = sa.table(
        "case_files", sa.column("id", sa.String()), sa.column("finding_counts", sa.JSON())
    )
    for file_id, items in bind.execute(sa.select(old.c.id, old.c.findings)).all():
        if not items:
            continue
        rows: list[dict[str, Any]] = []
        counts: dict[str, int] = {}
        for item in items:
            if not isinstance(item, dict):
                continue
            decisions = item.get("decision")
            reasons = item.get("reason")
            kind = str(item.get("entity_type") or "UNKNOWN")
            counts[kind] = counts.get(kind, 0) + 1
            rows.append(
                {
                    "file_id": file_id,
                    "page": item.get("page"),
                    "source": str(item.get("source") or "other"),
                    "entity_type": kind,
                    "text": str(item.get("text") or ""),
                    "start": int(item.get("start") or 0),
                    "end": int(item.get("end") or 0),
                    "score": float(item.get("score") or 0.0),
                    "recognizer": item.get("recognizer"),
                    "explanation": item.get("explanation"),
                    "suggestion": bool(item.get("suggestion")),
                    "decisions": decisions if isinstance(decisions, dict) else None,
                    "reasons": reasons if isinstance(reasons, dict) else None,
                }
            )
        if rows:
            bind.execute(findings.insert(), rows)
        bind.execute(counts_table.update().where(counts_table.c.id == file_id).values(finding_counts=counts))


def downgrade() -> None:
    # Findings are not copied back: a downgraded case shows none until it is processed again.
    with op.batch_alter_table("case_files", schema=None) as batch_op:
        batch_op.add_column(sa.Column("findings", sa.JSON(), nullable=True))
    op.drop_table("pending_blobs")
    op.drop_table("outbox")
    op.drop_table("findings")
    with op.batch_alter_table("case_files", schema=None) as batch_op:
        for name in ("finding_counts", "attempts", "lease_owner", "lease_until", "queued_at", "run"):
            batch_op.drop_column(name)
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("lease_owner")
        batch_op.drop_column("lease_until")
