"""Governance: impact assessments, cross-border transfer mechanisms and transfers, incidents
(issue 22; PIPL Art. 38-40, 55-57).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('impact_assessments',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('purpose', sa.String(length=64), nullable=False),
    sa.Column('triggers', sa.JSON(), nullable=False),
    sa.Column('content', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('author', sa.String(length=128), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('approved_by', sa.String(length=128), nullable=True),
    sa.Column('approved_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('keep_until', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['principals.id'], name=op.f('fk_impact_assessments_author_id_principals')),
    sa.ForeignKeyConstraint(['approved_by_id'], ['principals.id'], name=op.f('fk_impact_assessments_approved_by_id_principals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_impact_assessments'))
    )
    with op.batch_alter_table('impact_assessments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_impact_assessments_purpose'), ['purpose'], unique=False)

    op.create_table('transfer_mechanisms',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('handler', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('reference', sa.String(length=200), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=False),
    sa.Column('recorded_by', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transfer_mechanisms'))
    )
    with op.batch_alter_table('transfer_mechanisms', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_transfer_mechanisms_handler'), ['handler'], unique=False)

    op.create_table('cross_border_transfers',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('handler', sa.String(length=64), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('recipient', sa.String(length=200), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('individuals', sa.Integer(), nullable=False),
    sa.Column('sensitive_individuals', sa.Integer(), nullable=False),
    sa.Column('rule_id', sa.String(length=128), nullable=False),
    sa.Column('mechanism_id', sa.Integer(), nullable=True),
    sa.Column('recorded_by', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['mechanism_id'], ['transfer_mechanisms.id'], name=op.f('fk_cross_border_transfers_mechanism_id_transfer_mechanisms')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cross_border_transfers'))
    )
    with op.batch_alter_table('cross_border_transfers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cross_border_transfers_handler'), ['handler'], unique=False)
        batch_op.create_index(batch_op.f('ix_cross_border_transfers_year'), ['year'], unique=False)

    op.create_table('incidents',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('affected', sa.JSON(), nullable=False),
    sa.Column('deadlines', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('opened_by', sa.String(length=128), nullable=False),
    sa.Column('discovered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incidents'))
    )


def downgrade() -> None:
    op.drop_table('incidents')
    with op.batch_alter_table('cross_border_transfers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cross_border_transfers_year'))
        batch_op.drop_index(batch_op.f('ix_cross_border_transfers_handler'))
    op.drop_table('cross_border_transfers')
    with op.batch_alter_table('transfer_mechanisms', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_transfer_mechanisms_handler'))
    op.drop_table('transfer_mechanisms')
    with op.batch_alter_table('impact_assessments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_impact_assessments_purpose'))
    op.drop_table('impact_assessments')
