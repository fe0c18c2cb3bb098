"""Alembic environment: archivetag hands over an open connection; nothing is read from an ini."""

from alembic import context

from archivetag.storage.schema import Base, include_name

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    include_name=include_name,  # full-text search structures are not modelled
    render_as_batch=True,  # SQLite can only change a table by copying it
    transaction_per_migration=True,
)
with context.begin_transaction():
    context.run_migrations()
