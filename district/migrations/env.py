"""Alembic environment for the district database; run by district.db at start-up (and by
`district migrate`) on the connection it is handed, SQLite or PostgreSQL alike."""

from alembic import context

from district.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
