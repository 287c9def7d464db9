"""The local store: SQLAlchemy models and session, Alembic migrations, blobs, encryption at rest."""
