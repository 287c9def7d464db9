"""Call-back requests: what residents leave at a station when no agent can take their
call (the number sealed with the server key), and whether an agent has answered them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 09:00:00
"""

import sqlalchemy as sa
from alembic import op

import district.models

UTC_TIME = district.models.UTCDateTime()

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "callback_requests",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("station_id", sa.String(length=36), nullable=False),
        sa.Column("item_code", sa.String(length=16), nullable=False),
        sa.Column("item_title", sa.String(length=200), server_default="", nullable=False),
        sa.Column("phone_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("preferred", sa.String(length=16), nullable=False),
        sa.Column("requested_at", UTC_TIME, nullable=False),
        sa.Column("received_at", UTC_TIME, nullable=False),
        sa.Column("state", sa.String(length=8), server_default="open", nullable=False),
        sa.Column("done_by", sa.Integer(), nullable=True),
        sa.Column("done_at", UTC_TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["done_by"], ["users.id"], name=op.f("fk_callback_requests_done_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["station_id"], ["stations.id"], name=op.f("fk_callback_requests_station_id_stations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_requests")),
    )
    with op.batch_alter_table("callback_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_callback_requests_station_id"), ["station_id"], unique=False
        )
        batch_op.create_index(
            "ix_callback_requests_state_requested", ["state", "requested_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("callback_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_callback_requests_state_requested")
        batch_op.drop_index(batch_op.f("ix_callback_requests_station_id"))
    op.drop_table("callback_requests")
