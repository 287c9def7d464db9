"""Sync: the station's enrollment with its district, where the sync got to, and which
blobs the district already has.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 01:30:00
"""

import sqlalchemy as sa
from alembic import op

import kiosk.store.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sync_info",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("server_url", sa.String(length=500), nullable=True),
        sa.Column("station_id", sa.String(length=36), nullable=True),
        sa.Column("station_code", sa.String(length=12), nullable=True),
        sa.Column("station_name", sa.String(length=120), nullable=True),
        sa.Column("district_name", sa.String(length=120), nullable=True),
        sa.Column("enrolled_at", kiosk.store.models.UTCDateTime(), nullable=True),
        sa.Column("changes_cursor", sa.String(length=200), nullable=True),
        sa.Column("settings_version", sa.Integer(), nullable=True),
        sa.Column("last_success_at", kiosk.store.models.UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", kiosk.store.models.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_info")),
    )
    with op.batch_alter_table("blobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sent_at", kiosk.store.models.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("blobs", schema=None) as batch_op:
        batch_op.drop_column("sent_at")
    op.drop_table("sync_info")
