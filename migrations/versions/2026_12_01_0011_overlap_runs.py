"""Overlap runs: one row per cross-brand private set intersection (issue 26; PIPL Art. 23).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('overlap_runs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=36), nullable=False),
    sa.Column('requester', sa.String(length=160), nullable=False),
    sa.Column('actor', sa.String(length=160), nullable=False),
    sa.Column('requesting_brand', sa.String(length=64), nullable=False),
    sa.Column('other_brand', sa.String(length=64), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('join_key', sa.String(length=32), nullable=False),
    sa.Column('agreement_version', sa.String(length=32), nullable=False),
    sa.Column('consent_as_of', sa.DateTime(timezone=True), nullable=False),
    sa.Column('entered', sa.JSON(), nullable=False),
    sa.Column('size_released', sa.BigInteger(), nullable=False),
    sa.Column('epsilon_micro', sa.BigInteger(), nullable=False),
    sa.Column('ledger_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['ledger_id'], ['budget_ledgers.id'], name=op.f('fk_overlap_runs_ledger_id_budget_ledgers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_overlap_runs')),
    sa.UniqueConstraint('run_id', name=op.f('uq_overlap_runs_run_id'))
    )


def downgrade() -> None:
    op.drop_table('overlap_runs')
