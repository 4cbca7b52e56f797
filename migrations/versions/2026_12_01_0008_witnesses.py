"""Cumulative tree roots on checkpoints and the brands that witnessed them.

Each checkpoint signed from now on also carries the RFC 6962 head of the whole log
(`tree_size`, `tree_root`); older checkpoints keep NULL there and stay verifiable by their
range. `audit_witnesses` records which brand checked which signed head.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('audit_checkpoints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tree_size', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('tree_root', sa.String(length=64), nullable=True))

    op.create_table('audit_witnesses',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('brand_id', sa.String(length=64), nullable=False),
    sa.Column('tree_size', sa.Integer(), nullable=False),
    sa.Column('tree_root', sa.String(length=64), nullable=False),
    sa.Column('witnessed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], name=op.f('fk_audit_witnesses_brand_id_brands')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_witnesses')),
    sa.UniqueConstraint('brand_id', 'tree_size', name=op.f('uq_audit_witnesses_brand_id'))
    )
    with op.batch_alter_table('audit_witnesses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_witnesses_brand_id'), ['brand_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_witnesses_tree_size'), ['tree_size'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('audit_witnesses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_witnesses_tree_size'))
        batch_op.drop_index(batch_op.f('ix_audit_witnesses_brand_id'))

    op.drop_table('audit_witnesses')
    with op.batch_alter_table('audit_checkpoints', schema=None) as batch_op:
        batch_op.drop_column('tree_root')
        batch_op.drop_column('tree_size')
