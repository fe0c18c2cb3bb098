"""search: full-text search over annotations, catalogue identity, embedding lookup index

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import uuid
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

# FTS5 over annotations.text, stemmed like PostgreSQL's 'english' configuration; external
# content (the text is stored once, in annotations) kept in step by triggers, so every writer
# (ingest, import, a cascade from a deleted segment) updates it in its own transaction.
SQLITE_FULL_TEXT = [
    "CREATE VIRTUAL TABLE annotations_fts USING fts5(text, content='annotations', "
    "content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER annotations_fts_insert AFTER INSERT ON annotations BEGIN "
    "INSERT INTO annotations_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER annotations_fts_delete AFTER DELETE ON annotations BEGIN "
    "INSERT INTO annotations_fts(annotations_fts, rowid, text) "
    "VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER annotations_fts_update AFTER UPDATE OF text ON annotations BEGIN "
    "INSERT INTO annotations_fts(annotations_fts, rowid, text) "
    "VALUES ('delete', old.id, old.text); "
    "INSERT INTO annotations_fts(rowid, text) VALUES (new.id, new.text); END",
    "INSERT INTO annotations_fts(annotations_fts) VALUES ('rebuild')",
]
POSTGRESQL_FULL_TEXT = [
    "CREATE INDEX ix_annotations_fts ON annotations USING gin (to_tsvector('english', text))",
]


def upgrade() -> None:
    catalogue = op.create_table('catalogue',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uid', sa.String(length=36), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalogue')),
    sa.UniqueConstraint('uid', name=op.f('uq_catalogue_uid'))
    )
    op.bulk_insert(catalogue, [{'id': 1, 'uid': str(uuid.uuid4()),
                                'created_at': datetime.now(timezone.utc)}])
    with op.batch_alter_table('embeddings', schema=None) as batch_op:
        batch_op.create_index('ix_embeddings_embedder_id', ['embedder', 'id'], unique=False)
    dialect = op.get_bind().dialect.name
    for statement in {'sqlite': SQLITE_FULL_TEXT, 'postgresql': POSTGRESQL_FULL_TEXT}.get(dialect, []):
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        for trigger in ('insert', 'delete', 'update'):
            op.execute(f"DROP TRIGGER annotations_fts_{trigger}")
        op.execute("DROP TABLE annotations_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_annotations_fts")
    with op.batch_alter_table('embeddings', schema=None) as batch_op:
        batch_op.drop_index('ix_embeddings_embedder_id')
    op.drop_table('catalogue')
