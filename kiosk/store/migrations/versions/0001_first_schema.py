"""The first schema: catalog, applications, materials, blobs, history, outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 19:51:58.685881
"""

import sqlalchemy as sa
from alembic import op

import kiosk.store.models

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "applications",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.Column("station_code", sa.String(length=12), nullable=False),
        sa.Column("item_code", sa.String(length=16), nullable=False),
        sa.Column("item_name_zh", sa.String(length=60), nullable=False),
        sa.Column("item_name_en", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("resident_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("form_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", kiosk.store.models.UTCDateTime(), nullable=False),
        sa.Column("updated_at", kiosk.store.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_applications")),
        sa.UniqueConstraint("reference", name=op.f("uq_applications_reference")),
    )
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_applications_item_code"), ["item_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_applications_state"), ["state"], unique=False)

    op.create_table(
        "blobs",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("media_type", sa.String(length=64), nullable=False),
        sa.Column("created_at", kiosk.store.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_blobs")),
    )
    op.create_table(
        "catalog_info",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("title_zh", sa.String(length=200), nullable=False),
        sa.Column("title_en", sa.String(length=200), nullable=False),
        sa.Column("sample", sa.Boolean(), nullable=False),
        sa.Column("source_sha256", sa.String(length=64), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("installed_at", kiosk.store.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_info")),
    )
    op.create_table(
        "catalog_items",
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_catalog_items")),
        sa.UniqueConstraint("position", name=op.f("uq_catalog_items_position")),
    )
    with op.batch_alter_table("catalog_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_catalog_items_category"), ["category"], unique=False)

    op.create_table(
        "reference_counters",
        sa.Column("station_code", sa.String(length=12), nullable=False),
        sa.Column("day", sa.String(length=8), nullable=False),
        sa.Column("last_sequence", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("station_code", "day", name=op.f("pk_reference_counters")),
    )
    op.create_table(
        "application_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.String(length=36), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", kiosk.store.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_application_history_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_application_history")),
    )
    with op.batch_alter_table("application_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_application_history_application_id"), ["application_id"], unique=False
        )

    op.create_table(
        "application_materials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.String(length=36), nullable=False),
        sa.Column("blob_sha256", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_application_materials_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["blob_sha256"],
            ["blobs.sha256"],
            name=op.f("fk_application_materials_blob_sha256_blobs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_application_materials")),
    )
    with op.batch_alter_table("application_materials", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_application_materials_application_id"), ["application_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_application_materials_blob_sha256"), ["blob_sha256"], unique=False
        )

    op.create_table(
        "outbox",
        sa.Column("sequence", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("application_id", sa.String(length=36), nullable=False),
        sa.Column("queued_at", kiosk.store.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_outbox_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("sequence", name=op.f("pk_outbox")),
        sa.UniqueConstraint("application_id", name=op.f("uq_outbox_application_id")),
    )


def downgrade() -> None:
    op.drop_table("outbox")
    with op.batch_alter_table("application_materials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_application_materials_blob_sha256"))
        batch_op.drop_index(batch_op.f("ix_application_materials_application_id"))

    op.drop_table("application_materials")
    with op.batch_alter_table("application_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_application_history_application_id"))

    op.drop_table("application_history")
    op.drop_table("reference_counters")
    with op.batch_alter_table("catalog_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_items_category"))

    op.drop_table("catalog_items")
    op.drop_table("catalog_info")
    op.drop_table("blobs")
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_applications_state"))
        batch_op.drop_index(batch_op.f("ix_applications_item_code"))

    op.drop_table("applications")
