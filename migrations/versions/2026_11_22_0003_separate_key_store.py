"""Subject data keys may live in a separate key store database: no foreign key to subjects.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 23:15:00
"""

from __future__ import annotations

from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('subject_keys') as batch:
        batch.drop_constraint('fk_subject_keys_subject_id_subjects', type_='foreignkey')


def downgrade() -> None:
    with op.batch_alter_table('subject_keys') as batch:
        batch.create_foreign_key('fk_subject_keys_subject_id_subjects', 'subjects',
                                 ['subject_id'], ['id'])
