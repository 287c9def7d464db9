"""Remote assistance: the call queue (calls in order, their states and both sides' last
heartbeats), the agents' presence and skills, the signals waiting to be delivered to a
side of a call (so any server process can deliver them), and the images captured during
a call (blobs like any material).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 06:00:00
"""

import sqlalchemy as sa
from alembic import op

import district.models

UTC_TIME = district.models.UTCDateTime()
BIG_SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("station_id", sa.String(length=36), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("item_code", sa.String(length=16), server_default="", nullable=False),
        sa.Column("item_title", sa.String(length=200), server_default="", nullable=False),
        sa.Column("category", sa.String(length=60), server_default="", nullable=False),
        sa.Column("application_id", sa.String(length=36), nullable=True),
        sa.Column("identity", sa.String(length=80), server_default="", nullable=False),
        sa.Column("source", sa.String(length=16), server_default="guide", nullable=False),
        sa.Column("audio", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("assigned_at", UTC_TIME, nullable=True),
        sa.Column("connected_at", UTC_TIME, nullable=True),
        sa.Column("ended_at", UTC_TIME, nullable=True),
        sa.Column("end_reason", sa.String(length=16), nullable=True),
        sa.Column("attempt", sa.Integer(), server_default="0", nullable=False),
        sa.Column("kiosk_seen_at", UTC_TIME, nullable=True),
        sa.Column("agent_seen_at", UTC_TIME, nullable=True),
        sa.ForeignKeyConstraint(["agent_id"], ["users.id"], name=op.f("fk_calls_agent_id_users")),
        sa.ForeignKeyConstraint(
            ["station_id"], ["stations.id"], name=op.f("fk_calls_station_id_stations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
    )
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calls_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_calls_application_id"), ["application_id"], unique=False
        )
        batch_op.create_index("ix_calls_state_created", ["state", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_calls_station_id"), ["station_id"], unique=False)

    op.create_table(
        "agent_presence",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), server_default="offline", nullable=False),
        sa.Column("reason", sa.String(length=100), server_default="", nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("since", UTC_TIME, nullable=False),
        sa.Column("seen_at", UTC_TIME, nullable=True),
        sa.Column("call_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_agent_presence_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_agent_presence")),
    )
    op.create_table(
        "call_signals",
        sa.Column("id", BIG_SERIAL, autoincrement=True, nullable=False),
        sa.Column("call_id", sa.String(length=36), nullable=False),
        sa.Column("to_side", sa.String(length=8), nullable=False),
        sa.Column("recipient", sa.String(length=36), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_signals")),
    )
    with op.batch_alter_table("call_signals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_call_signals_call_id"), ["call_id"], unique=False)
        batch_op.create_index(
            "ix_call_signals_side_recipient", ["to_side", "recipient", "id"], unique=False
        )

    op.create_table(
        "call_captures",
        sa.Column("call_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("request", sa.String(length=40), server_default="", nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=200), server_default="", nullable=False),
        sa.Column("media_type", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_call_captures_call_id_calls")
        ),
        sa.ForeignKeyConstraint(
            ["sha256"], ["blobs.sha256"], name=op.f("fk_call_captures_sha256_blobs")
        ),
        sa.PrimaryKeyConstraint("call_id", "position", name=op.f("pk_call_captures")),
    )
    with op.batch_alter_table("call_captures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_call_captures_sha256"), ["sha256"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("call_captures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_call_captures_sha256"))
    op.drop_table("call_captures")
    with op.batch_alter_table("call_signals", schema=None) as batch_op:
        batch_op.drop_index("ix_call_signals_side_recipient")
        batch_op.drop_index(batch_op.f("ix_call_signals_call_id"))
    op.drop_table("call_signals")
    op.drop_table("agent_presence")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calls_station_id"))
        batch_op.drop_index("ix_calls_state_created")
        batch_op.drop_index(batch_op.f("ix_calls_application_id"))
        batch_op.drop_index(batch_op.f("ix_calls_agent_id"))
    op.drop_table("calls")
