"""Audit subjects: the trace's index of the subjects an audit event concerns, for events over
many subjects (a consent import's one event per batch, issue 24).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_subjects',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('brand_id', sa.String(length=64), nullable=True),
    sa.Column('subject', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('purpose', sa.String(length=64), nullable=True),
    sa.Column('ref_id', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_subjects'))
    )
    op.create_index('ix_audit_subjects_subject_seq', 'audit_subjects', ['subject', 'seq'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_audit_subjects_subject_seq', table_name='audit_subjects')
    op.drop_table('audit_subjects')
