"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('provenances',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('model_id', sa.Text(), nullable=False),
    sa.Column('model_revision', sa.Text(), nullable=True),
    sa.Column('tiny_checkpoint', sa.Boolean(), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_provenances')),
    sa.UniqueConstraint('key', name=op.f('uq_provenances_key'))
    )
    op.create_table('roots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('path', sa.LargeBinary(), nullable=False),
    sa.Column('display_path', sa.Text(), nullable=False),
    sa.Column('device', sa.BigInteger(), nullable=True),
    sa.Column('last_file_count', sa.Integer(), nullable=False),
    sa.Column('last_scan_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roots')),
    sa.UniqueConstraint('path', name=op.f('uq_roots_path'))
    )
    op.create_table('runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('command', sa.String(length=32), nullable=False),
    sa.Column('arguments', sa.JSON(), nullable=False),
    sa.Column('host', sa.Text(), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('version', sa.String(length=32), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('summary', sa.JSON(), nullable=True),
    sa.CheckConstraint("status IN ('running', 'done', 'failed', 'interrupted')", name=op.f('ck_runs_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_runs'))
    )
    op.create_table('tags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tags')),
    sa.UniqueConstraint('name', name=op.f('uq_tags_name'))
    )
    op.create_table('media_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('path', sa.LargeBinary(), nullable=False),
    sa.Column('display_path', sa.Text(), nullable=False),
    sa.Column('root_id', sa.Integer(), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('mtime_ns', sa.BigInteger(), nullable=True),
    sa.Column('fingerprint', sa.String(length=64), nullable=True),
    sa.Column('content_hash', sa.String(length=64), nullable=True),
    sa.Column('duration', sa.Float(), nullable=True),
    sa.Column('container', sa.Text(), nullable=True),
    sa.Column('media_type', sa.String(length=8), nullable=True),
    sa.Column('streams', sa.JSON(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('warning', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('failed_in_run_id', sa.Integer(), nullable=True),
    sa.Column('provenance_id', sa.Integer(), nullable=True),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'done', 'failed', 'skipped', 'missing')", name=op.f('ck_media_files_status')),
    sa.ForeignKeyConstraint(['failed_in_run_id'], ['runs.id'], name=op.f('fk_media_files_failed_in_run_id_runs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['provenance_id'], ['provenances.id'], name=op.f('fk_media_files_provenance_id_provenances')),
    sa.ForeignKeyConstraint(['root_id'], ['roots.id'], name=op.f('fk_media_files_root_id_roots'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_media_files')),
    sa.UniqueConstraint('path', name=op.f('uq_media_files_path'))
    )
    with op.batch_alter_table('media_files', schema=None) as batch_op:
        batch_op.create_index('ix_media_files_content_hash', ['content_hash'], unique=False)
        batch_op.create_index('ix_media_files_fingerprint', ['size', 'fingerprint'], unique=False)
        batch_op.create_index('ix_media_files_status', ['status'], unique=False)

    op.create_table('segments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('file_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('index', sa.Integer(), nullable=True),
    sa.Column('start_s', sa.Float(), nullable=False),
    sa.Column('end_s', sa.Float(), nullable=False),
    sa.Column('rms_db', sa.Float(), nullable=True),
    sa.Column('peak_db', sa.Float(), nullable=True),
    sa.Column('silent', sa.Boolean(), nullable=False),
    sa.CheckConstraint('end_s >= start_s', name=op.f('ck_segments_ordered')),
    sa.ForeignKeyConstraint(['file_id'], ['media_files.id'], name=op.f('fk_segments_file_id_media_files'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_segments')),
    sa.UniqueConstraint('file_id', 'source', 'index', name='uq_segments_file_index'),
    sa.UniqueConstraint('file_id', 'source', 'start_s', 'end_s', name='uq_segments_span')
    )
    op.create_table('annotations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('segment_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('provenance_id', sa.Integer(), nullable=True),
    sa.Column('imported', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['provenance_id'], ['provenances.id'], name=op.f('fk_annotations_provenance_id_provenances')),
    sa.ForeignKeyConstraint(['segment_id'], ['segments.id'], name=op.f('fk_annotations_segment_id_segments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_annotations')),
    sa.UniqueConstraint('segment_id', 'kind', 'source', name='uq_annotations_segment_kind_source')
    )
    op.create_table('embeddings',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('segment_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('embedder', sa.Text(), nullable=False),
    sa.Column('dim', sa.Integer(), nullable=False),
    sa.Column('text_hash', sa.String(length=64), nullable=False),
    sa.Column('vector', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['segment_id'], ['segments.id'], name=op.f('fk_embeddings_segment_id_segments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_embeddings')),
    sa.UniqueConstraint('segment_id', 'embedder', name='uq_embeddings_segment_embedder')
    )
    op.create_table('segment_tags',
    sa.Column('annotation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('tag_id', sa.Integer(), nullable=False),
    sa.Column('segment_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('raw', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['annotation_id'], ['annotations.id'], name=op.f('fk_segment_tags_annotation_id_annotations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['segment_id'], ['segments.id'], name=op.f('fk_segment_tags_segment_id_segments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tag_id'], ['tags.id'], name=op.f('fk_segment_tags_tag_id_tags')),
    sa.PrimaryKeyConstraint('annotation_id', 'tag_id', name=op.f('pk_segment_tags'))
    )
    with op.batch_alter_table('segment_tags', schema=None) as batch_op:
        batch_op.create_index('ix_segment_tags_segment', ['segment_id'], unique=False)
        batch_op.create_index('ix_segment_tags_tag_segment', ['tag_id', 'segment_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('segment_tags', schema=None) as batch_op:
        batch_op.drop_index('ix_segment_tags_tag_segment')
        batch_op.drop_index('ix_segment_tags_segment')

    op.drop_table('segment_tags')
    op.drop_table('embeddings')
    op.drop_table('annotations')
    op.drop_table('segments')
    with op.batch_alter_table('media_files', schema=None) as batch_op:
        batch_op.drop_index('ix_media_files_status')
        batch_op.drop_index('ix_media_files_fingerprint')
        batch_op.drop_index('ix_media_files_content_hash')

    op.drop_table('media_files')
    op.drop_table('tags')
    op.drop_table('runs')
    op.drop_table('roots')
    op.drop_table('provenances')
