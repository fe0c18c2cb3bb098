"""missing_since: when a file was first not found, so that `prune --older-than` can judge

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('media_files') as batch:
        batch.add_column(sa.Column('missing_since', sa.DateTime(timezone=True), nullable=True))
    # Files already missing went missing at their last update, the best evidence there is.
    op.execute("UPDATE media_files SET missing_since = updated_at WHERE status = 'missing'")


def downgrade() -> None:
    with op.batch_alter_table('media_files') as batch:
        batch.drop_column('missing_since')
