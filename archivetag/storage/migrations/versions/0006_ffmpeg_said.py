"""ffmpeg's own words apart from the reason: `media_files.ffmpeg_said`

Reasons and warnings are sentences a person reads ("its data is not what its format says");
what ffmpeg or ffprobe said behind them is kept in its own column for `show --json`, not in
parentheses inside the sentence. Rows stored before keep their reasons as they were.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('media_files') as batch:
        batch.add_column(sa.Column('ffmpeg_said', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('media_files') as batch:
        batch.drop_column('ffmpeg_said')
