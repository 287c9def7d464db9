"""A supervisor on a call: who joined it (`supervisor_id`) and when its agent asked for
help (`help_at`), so that a group's supervisors see the calls waiting for them; and the
call-back request an agent's call to a station answers (`callback_id`).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 14:00:00
"""

import sqlalchemy as sa
from alembic import op

import district.models

UTC_TIME = district.models.UTCDateTime()

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("supervisor_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("help_at", UTC_TIME, nullable=True))
        batch.add_column(sa.Column("callback_id", sa.String(length=36), nullable=True))
        batch.create_foreign_key(
            op.f("fk_calls_supervisor_id_users"), "users", ["supervisor_id"], ["id"]
        )
        batch.create_index(op.f("ix_calls_supervisor_id"), ["supervisor_id"])


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_index(op.f("ix_calls_supervisor_id"))
        batch.drop_constraint(op.f("fk_calls_supervisor_id_users"), type_="foreignkey")
        batch.drop_column("callback_id")
        batch.drop_column("help_at")
        batch.drop_column("supervisor_id")
