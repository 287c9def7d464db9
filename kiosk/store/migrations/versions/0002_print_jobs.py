"""Print jobs: the receipts, forms, reports and test pages sent to the printer.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 01:00:00
"""

import sqlalchemy as sa
from alembic import op

import kiosk.store.models

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "print_jobs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("reference", sa.String(length=40), nullable=True),
        sa.Column("document_sha256", sa.String(length=64), nullable=False),
        sa.Column("printer", sa.String(length=127), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("backend_job", sa.String(length=64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("reprint_of", sa.String(length=36), nullable=True),
        sa.Column("created_at", kiosk.store.models.UTCDateTime(), nullable=False),
        sa.Column("updated_at", kiosk.store.models.UTCDateTime(), nullable=False),
        sa.Column("done_at", kiosk.store.models.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["document_sha256"],
            ["blobs.sha256"],
            name=op.f("fk_print_jobs_document_sha256_blobs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_print_jobs")),
        sa.UniqueConstraint("sequence", name=op.f("uq_print_jobs_sequence")),
    )
    with op.batch_alter_table("print_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_print_jobs_reference"), ["reference"], unique=False)
        batch_op.create_index(batch_op.f("ix_print_jobs_state"), ["state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("print_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_print_jobs_state"))
        batch_op.drop_index(batch_op.f("ix_print_jobs_reference"))
    op.drop_table("print_jobs")
