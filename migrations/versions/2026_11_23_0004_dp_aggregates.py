"""DP aggregates: registered datasets, privacy budgets, per-period ledgers, releases.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 00:47:01.733079
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('dp_datasets',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=1024), nullable=False),
    sa.Column('format', sa.String(length=16), nullable=False),
    sa.Column('unit_col', sa.String(length=128), nullable=False),
    sa.Column('max_rows_per_unit', sa.Integer(), nullable=False),
    sa.Column('max_rows', sa.BigInteger(), nullable=False),
    sa.Column('jurisdiction', sa.String(length=16), nullable=False),
    sa.Column('columns', sa.JSON(), nullable=False),
    sa.Column('silos', sa.JSON(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('registered_by', sa.String(length=160), nullable=False),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dp_datasets')),
    sa.UniqueConstraint('name', name=op.f('uq_dp_datasets_name'))
    )
    op.create_table('budget_ledgers',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('requester', sa.String(length=128), nullable=False),
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=16), nullable=False),
    sa.Column('period_key', sa.String(length=16), nullable=False),
    sa.Column('limit_micro', sa.BigInteger(), nullable=False),
    sa.Column('spent_micro', sa.BigInteger(), nullable=False),
    sa.Column('releases', sa.Integer(), nullable=False),
    sa.Column('refusals', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['dp_datasets.id'], name=op.f('fk_budget_ledgers_dataset_id_dp_datasets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_budget_ledgers')),
    sa.UniqueConstraint('requester', 'dataset_id', 'period_key', name=op.f('uq_budget_ledgers_requester'))
    )
    op.create_table('privacy_budgets',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('requester', sa.String(length=128), nullable=False),
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=16), nullable=False),
    sa.Column('limit_micro', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['dp_datasets.id'], name=op.f('fk_privacy_budgets_dataset_id_dp_datasets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_privacy_budgets')),
    sa.UniqueConstraint('requester', 'dataset_id', name=op.f('uq_privacy_budgets_requester'))
    )
    op.create_table('dp_releases',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('ledger_id', sa.Integer(), nullable=False),
    sa.Column('requester', sa.String(length=128), nullable=False),
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=64), nullable=False),
    sa.Column('rule_id', sa.String(length=128), nullable=False),
    sa.Column('measure', sa.String(length=16), nullable=False),
    sa.Column('query_sha256', sa.String(length=64), nullable=False),
    sa.Column('epsilon_micro', sa.BigInteger(), nullable=False),
    sa.Column('delta', sa.Double(), nullable=False),
    sa.Column('groups_released', sa.Integer(), nullable=False),
    sa.Column('groups_suppressed', sa.Integer(), nullable=False),
    sa.Column('federated', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['dp_datasets.id'], name=op.f('fk_dp_releases_dataset_id_dp_datasets')),
    sa.ForeignKeyConstraint(['ledger_id'], ['budget_ledgers.id'], name=op.f('fk_dp_releases_ledger_id_budget_ledgers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dp_releases'))
    )
    with op.batch_alter_table('dp_releases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dp_releases_ledger_id'), ['ledger_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('dp_releases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dp_releases_ledger_id'))

    op.drop_table('dp_releases')
    op.drop_table('privacy_budgets')
    op.drop_table('budget_ledgers')
    op.drop_table('dp_datasets')
