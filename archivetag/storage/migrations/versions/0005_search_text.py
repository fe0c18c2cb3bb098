"""search text: keyword search over one normalised form of every annotation, in every script

`annotations.search_text` holds `annotations.text` as archivetag/storage/search_text.py
normalises it (NFKC, case folding, accents stripped, CJK and Thai as characters and pairs);
the writer fills it, this migration fills it for the rows already stored. The full-text
indexes of 0002 (FTS5 `porter unicode61` on SQLite, GIN over `to_tsvector('english')` on
PostgreSQL) are replaced by indexes over that column that cut tokens only where the
normaliser put spaces: FTS5 `porter ascii` (ASCII words stemmed, every other character part
of a word) and the PostgreSQL configuration `archivetag_search`, a copy of `simple` whose
ASCII words are stemmed by a Snowball English dictionary without stop words. Both databases
therefore hold the same tokens; stemming stays as it was for English (bench/search_quality.py).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

from archivetag.storage.search_text import search_text

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

BATCH = 2000
annotations = sa.table('annotations', sa.column('id', sa.Integer), sa.column('text', sa.Text),
                       sa.column('search_text', sa.Text))

SQLITE_OLD = [
    "DROP TRIGGER annotations_fts_insert",
    "DROP TRIGGER annotations_fts_delete",
    "DROP TRIGGER annotations_fts_update",
    "DROP TABLE annotations_fts",
]
# External content as in 0002, now over search_text.
SQLITE_NEW = [
    "CREATE VIRTUAL TABLE annotations_fts USING fts5(search_text, content='annotations', "
    "content_rowid='id', tokenize='porter ascii')",
    "CREATE TRIGGER annotations_fts_insert AFTER INSERT ON annotations BEGIN "
    "INSERT INTO annotations_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER annotations_fts_delete AFTER DELETE ON annotations BEGIN "
    "INSERT INTO annotations_fts(annotations_fts, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER annotations_fts_update AFTER UPDATE OF search_text ON annotations BEGIN "
    "INSERT INTO annotations_fts(annotations_fts, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO annotations_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "INSERT INTO annotations_fts(annotations_fts) VALUES ('rebuild')",
]
POSTGRESQL_NEW = [
    "DROP INDEX IF EXISTS ix_annotations_fts",
    "CREATE TEXT SEARCH DICTIONARY archivetag_english_stem "
    "(TEMPLATE = snowball, Language = english)",
    "CREATE TEXT SEARCH CONFIGURATION archivetag_search (COPY = simple)",
    "ALTER TEXT SEARCH CONFIGURATION archivetag_search ALTER MAPPING FOR asciiword "
    "WITH archivetag_english_stem",
    "CREATE INDEX ix_annotations_fts ON annotations "
    "USING gin (to_tsvector('archivetag_search', search_text))",
]
POSTGRESQL_OLD = [
    "DROP INDEX IF EXISTS ix_annotations_fts",
    "DROP TEXT SEARCH CONFIGURATION IF EXISTS archivetag_search",
    "DROP TEXT SEARCH DICTIONARY IF EXISTS archivetag_english_stem",
    "CREATE INDEX ix_annotations_fts ON annotations USING gin (to_tsvector('english', text))",
]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == 'sqlite':
        for statement in SQLITE_OLD:
            op.execute(statement)
    with op.batch_alter_table('annotations') as batch:
        batch.add_column(sa.Column('search_text', sa.Text(), nullable=True))
    bind = op.get_bind()
    last = 0
    while rows := bind.execute(sa.select(annotations.c.id, annotations.c.text)
                               .where(annotations.c.id > last)
                               .order_by(annotations.c.id).limit(BATCH)).all():
        bind.execute(annotations.update().where(annotations.c.id == sa.bindparam('row_id'))
                     .values(search_text=sa.bindparam('normalised')),
                     [{'row_id': id_, 'normalised': search_text(text)} for id_, text in rows])
        last = rows[-1].id
    for statement in {'sqlite': SQLITE_NEW, 'postgresql': POSTGRESQL_NEW}.get(dialect, []):
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == 'sqlite':
        for statement in SQLITE_OLD:
            op.execute(statement)
    elif dialect == 'postgresql':
        for statement in POSTGRESQL_OLD[:3]:
            op.execute(statement)
    with op.batch_alter_table('annotations') as batch:
        batch.drop_column('search_text')
    if dialect == 'sqlite':
        from importlib import import_module

        for statement in import_module(
                'archivetag.storage.migrations.versions.0002_search').SQLITE_FULL_TEXT:
            op.execute(statement)
    elif dialect == 'postgresql':
        op.execute(POSTGRESQL_OLD[3])
