"""faithful audio: partial apart from warnings, and the container's duration kept beside ours

`warning` (one text) becomes `partial` (the decode stopped early) plus `warnings` (a JSON
list of lines that lose nothing, the partial read first), and `claimed_duration` keeps the
container's claim while `duration` becomes the length decoded.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

media_files = sa.table(
    'media_files',
    sa.column('id', sa.Integer),
    sa.column('warning', sa.Text),
    sa.column('warnings', sa.JSON),
    sa.column('partial', sa.Boolean),
)


def upgrade() -> None:
    with op.batch_alter_table('media_files') as batch:
        batch.add_column(sa.Column('claimed_duration', sa.Float(), nullable=True))
        batch.add_column(sa.Column('partial', sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column('warnings', sa.JSON(), nullable=True))
    # Until now the stored duration was the container's claim, the best evidence there is.
    op.execute("UPDATE media_files SET claimed_duration = duration")
    # A stored warning was either a partial read ("partial: decoded 3.0 of 6.0 s") or
    # "decoded with errors: …"; each stays as the one line of its file's warnings.
    bind = op.get_bind()
    rows = bind.execute(sa.select(media_files.c.id, media_files.c.warning)
                        .where(media_files.c.warning.is_not(None))).all()
    for file_id, warning in rows:
        bind.execute(media_files.update().where(media_files.c.id == file_id).values(
            warnings=[warning], partial=warning.startswith('partial:')))
    with op.batch_alter_table('media_files') as batch:
        batch.drop_column('warning')


def downgrade() -> None:
    with op.batch_alter_table('media_files') as batch:
        batch.add_column(sa.Column('warning', sa.Text(), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(sa.select(media_files.c.id, media_files.c.warnings)
                        .where(media_files.c.warnings.is_not(None))).all()
    for file_id, warnings in rows:
        if warnings:
            bind.execute(media_files.update().where(media_files.c.id == file_id)
                         .values(warning='; '.join(warnings)))
    with op.batch_alter_table('media_files') as batch:
        batch.drop_column('warnings')
        batch.drop_column('partial')
        batch.drop_column('claimed_duration')
