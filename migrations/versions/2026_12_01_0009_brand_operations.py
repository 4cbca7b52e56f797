"""Brand operations: trace indexes on the audit log, experiments, supervised PII reveals.

- `audit_events`: an index on (actor, occurred_at) and expression indexes on the subject
  pseudonym and the run id inside `data`, so that the 7-day trace (`comity audit trace`)
  resolves from a log of millions of events in milliseconds instead of a full scan. The
  expressions are the ones `compliance.audit.trace` queries with, per dialect.
- `experiments`: A/B experiments registered by internal services (never changed after).
- `pii_reveals`: a supervisor's one-field reveal, its reason and its second confirmation.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

TRACE_KEYS = ("subject", "run_id")


def _expr(dialect: str, key: str) -> str:
    """Must match `compliance.audit.trace.data_key` character for character on SQLite."""
    return f"(data ->> '{key}')" if dialect == "postgresql" else f"json_extract(data, '$.{key}')"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index('ix_audit_events_actor_occurred_at', ['actor', 'occurred_at'],
                              unique=False)
    for key in TRACE_KEYS:
        op.execute(f"CREATE INDEX ix_audit_events_data_{key} ON audit_events "
                   f"({_expr(dialect, key)}, seq)")

    op.create_table('experiments',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('requester', sa.String(length=160), nullable=False),
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('assignment_col', sa.String(length=128), nullable=False),
    sa.Column('arms', sa.JSON(), nullable=False),
    sa.Column('control_arm', sa.String(length=64), nullable=False),
    sa.Column('conversion_col', sa.String(length=128), nullable=False),
    sa.Column('spend_col', sa.String(length=128), nullable=True),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('registered_by', sa.String(length=160), nullable=False),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['dp_datasets.id'], name=op.f('fk_experiments_dataset_id_dp_datasets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_experiments')),
    sa.UniqueConstraint('key', name=op.f('uq_experiments_key'))
    )
    with op.batch_alter_table('experiments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_experiments_dataset_id'), ['dataset_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_experiments_requester'), ['requester'], unique=False)

    op.create_table('pii_reveals',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('brand_id', sa.String(length=64), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('field', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('requested_by', sa.String(length=160), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('approved_by', sa.String(length=160), nullable=True),
    sa.Column('approved_by_id', sa.Integer(), nullable=True),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revealed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], name=op.f('fk_pii_reveals_brand_id_brands')),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_pii_reveals_subject_id_subjects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pii_reveals'))
    )
    with op.batch_alter_table('pii_reveals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pii_reveals_brand_id'), ['brand_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_pii_reveals_subject_id'), ['subject_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('pii_reveals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pii_reveals_subject_id'))
        batch_op.drop_index(batch_op.f('ix_pii_reveals_brand_id'))
    op.drop_table('pii_reveals')
    with op.batch_alter_table('experiments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_experiments_requester'))
        batch_op.drop_index(batch_op.f('ix_experiments_dataset_id'))
    op.drop_table('experiments')
    for key in TRACE_KEYS:
        op.execute(f"DROP INDEX ix_audit_events_data_{key}")
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_actor_occurred_at')
