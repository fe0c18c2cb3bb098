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


# Plain ALTER TABLE (SQLite has DROP COLUMN since 3.35): a batch copy of media_files would
# drop the table, which the cascades of its segments' foreign keys refuse ("table is locked").


def upgrade() -> None:
    op.add_column('media_files', sa.Column('ffmpeg_said', sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column('media_files', 'ffmpeg_said')
