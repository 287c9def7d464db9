"""Ratings: the 好差评 ratings residents give, and their upload queue (they used to go to
ratings.jsonl in the data folder; `kiosk.core.ratings` imports that file once).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 21:00:00
"""

import sqlalchemy as sa
from alembic import op

import kiosk.store.models

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ratings",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("application_id", sa.String(length=36), nullable=True),
        sa.Column("item_code", sa.String(length=16), nullable=True),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.String(length=200), nullable=False),
        sa.Column("rated_at", kiosk.store.models.UTCDateTime(), nullable=False),
        sa.Column("commented_at", kiosk.store.models.UTCDateTime(), nullable=True),
        sa.Column("uploaded_at", kiosk.store.models.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ratings")),
    )
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ratings_rated_at"), ["rated_at"], unique=False)
    op.create_table(
        "rating_outbox",
        sa.Column("sequence", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rating_id", sa.String(length=36), nullable=False),
        sa.Column("queued_at", kiosk.store.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["rating_id"],
            ["ratings.id"],
            name=op.f("fk_rating_outbox_rating_id_ratings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("sequence", name=op.f("pk_rating_outbox")),
        sa.UniqueConstraint("rating_id", name=op.f("uq_rating_outbox_rating_id")),
    )


def downgrade() -> None:
    op.drop_table("rating_outbox")
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ratings_rated_at"))
    op.drop_table("ratings")
