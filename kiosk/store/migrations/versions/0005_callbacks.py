"""Call-backs: the call-back requests residents leave when no agent can take their call
(the number sealed), and their upload queue.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 06:00:00
"""

import sqlalchemy as sa
from alembic import op

import kiosk.store.models

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "callbacks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("item_code", sa.String(length=16), nullable=False),
        sa.Column("item_title", sa.String(length=200), nullable=False),
        sa.Column("phone_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("preferred", sa.String(length=16), nullable=False),
        sa.Column("requested_at", kiosk.store.models.UTCDateTime(), nullable=False),
        sa.Column("uploaded_at", kiosk.store.models.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callbacks")),
    )
    with op.batch_alter_table("callbacks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_callbacks_requested_at"), ["requested_at"], unique=False
        )
    op.create_table(
        "callback_outbox",
        sa.Column("sequence", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("callback_id", sa.String(length=36), nullable=False),
        sa.Column("queued_at", kiosk.store.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["callback_id"],
            ["callbacks.id"],
            name=op.f("fk_callback_outbox_callback_id_callbacks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("sequence", name=op.f("pk_callback_outbox")),
        sa.UniqueConstraint("callback_id", name=op.f("uq_callback_outbox_callback_id")),
    )


def downgrade() -> None:
    op.drop_table("callback_outbox")
    with op.batch_alter_table("callbacks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_callbacks_requested_at"))
    op.drop_table("callbacks")
