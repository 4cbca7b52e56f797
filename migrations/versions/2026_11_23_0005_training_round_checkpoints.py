"""Training round checkpoints: the global weights after each completed round, so a restarted
coordinator resumes from the last one and a failed round is retried from it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 06:47:15.150161
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('training_rounds',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=36), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('weights_sha256', sa.String(length=64), nullable=False),
    sa.Column('weights', sa.LargeBinary(), nullable=False),
    sa.Column('metrics', sa.JSON(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['training_runs.id'], name=op.f('fk_training_rounds_run_id_training_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_rounds')),
    sa.UniqueConstraint('run_id', 'round', name=op.f('uq_training_rounds_run_id'))
    )
    with op.batch_alter_table('training_rounds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_training_rounds_run_id'), ['run_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('training_rounds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_training_rounds_run_id'))

    op.drop_table('training_rounds')
