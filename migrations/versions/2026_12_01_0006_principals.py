"""Named principals behind tokens; idempotency keys scoped per principal.

Every existing token gets a principal of its own (`token-<id>`, created by this migration), so
tokens that were distinct people before stay distinct. Consent events and data-subject
requests learn which principal sent them (from their `role#token` actor) and the approver of an
open request likewise; Idempotency-Keys become unique per principal instead of globally.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

_tokens = sa.table('api_tokens', sa.column('id', sa.Integer()), sa.column('role', sa.String()),
                   sa.column('created_at', sa.DateTime(timezone=True)),
                   sa.column('principal_id', sa.Integer()))
_principals = sa.table('principals', sa.column('id', sa.Integer()),
                       sa.column('name', sa.String()), sa.column('kind', sa.String()),
                       sa.column('created_by', sa.String()),
                       sa.column('created_at', sa.DateTime(timezone=True)))
_consents = sa.table('consent_events', sa.column('actor', sa.String()),
                     sa.column('principal_id', sa.Integer()))
_requests = sa.table('subject_requests', sa.column('id', sa.String()),
                     sa.column('status', sa.String()), sa.column('result', sa.JSON()),
                     sa.column('opened_by_id', sa.Integer()),
                     sa.column('approved_by_id', sa.Integer()))
_audit = sa.table('audit_events', sa.column('actor', sa.String()),
                  sa.column('action', sa.String()), sa.column('data', sa.JSON()))


def _principal_per_token(conn: sa.Connection) -> dict[str, int]:
    """One principal per existing token; returns {actor string `role#id`: principal id}."""
    by_actor: dict[str, int] = {}
    for token_id, role, created_at in conn.execute(
            sa.select(_tokens.c.id, _tokens.c.role, _tokens.c.created_at)).all():
        kind = 'person' if role in ('dpo', 'admin') else 'service'
        conn.execute(_principals.insert().values(
            id=token_id, name=f'token-{token_id}', kind=kind, created_by='migration 0006',
            created_at=created_at))
        conn.execute(_tokens.update().where(_tokens.c.id == token_id)
                     .values(principal_id=token_id))
        by_actor[f'{role}#{token_id}'] = token_id
    return by_actor


def _backfill(conn: sa.Connection, by_actor: dict[str, int]) -> None:
    for actor, pid in by_actor.items():
        conn.execute(_consents.update().where(_consents.c.actor == actor)
                     .values(principal_id=pid))
    opened: dict[str, int] = {}
    for actor, data in conn.execute(sa.select(_audit.c.actor, _audit.c.data)
                                    .where(_audit.c.action == 'request.opened')).all():
        if actor in by_actor and isinstance(data, dict) and 'request_id' in data:
            opened[str(data['request_id'])] = by_actor[actor]
    for rid, status, result in conn.execute(
            sa.select(_requests.c.id, _requests.c.status, _requests.c.result)).all():
        values: dict[str, Any] = {}
        if rid in opened:
            values['opened_by_id'] = opened[rid]
        approver = (result or {}).get('approved_by') if isinstance(result, dict) else None
        if status not in ('completed', 'rejected') and approver in by_actor:
            values['approved_by_id'] = by_actor[approver]
        if values:
            conn.execute(_requests.update().where(_requests.c.id == rid).values(**values))


def upgrade() -> None:
    op.create_table('principals',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_principals')),
    sa.UniqueConstraint('name', name=op.f('uq_principals_name'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('principal_id', sa.Integer(), nullable=True))
    with op.batch_alter_table('consent_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('principal_id', sa.Integer(), nullable=True))
    with op.batch_alter_table('subject_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('opened_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('approved_by_id', sa.Integer(), nullable=True))

    conn = op.get_bind()
    _backfill(conn, _principal_per_token(conn))
    if conn.dialect.name == 'postgresql':  # ids were given explicitly above
        op.execute("SELECT setval(pg_get_serial_sequence('principals', 'id'), "
                   "COALESCE((SELECT MAX(id) FROM principals), 0) + 1, false)")

    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.alter_column('principal_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_index(batch_op.f('ix_api_tokens_principal_id'), ['principal_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_api_tokens_principal_id_principals'), 'principals', ['principal_id'], ['id'])
    with op.batch_alter_table('consent_events', schema=None) as batch_op:
        batch_op.drop_constraint('uq_consent_events_idempotency_key', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_consent_events_principal_id'), ['principal_id', 'idempotency_key'])
        batch_op.create_foreign_key(batch_op.f('fk_consent_events_principal_id_principals'), 'principals', ['principal_id'], ['id'])
    with op.batch_alter_table('subject_requests', schema=None) as batch_op:
        batch_op.drop_constraint('uq_subject_requests_idempotency_key', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_subject_requests_opened_by_id'), ['opened_by_id', 'idempotency_key'])
        batch_op.create_foreign_key(batch_op.f('fk_subject_requests_opened_by_id_principals'), 'principals', ['opened_by_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_subject_requests_approved_by_id_principals'), 'principals', ['approved_by_id'], ['id'])


def downgrade() -> None:
    """Keys become global again: fails if two principals used the same key (keep the data,
    resolve by hand)."""
    with op.batch_alter_table('subject_requests', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_subject_requests_approved_by_id_principals'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_subject_requests_opened_by_id_principals'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_subject_requests_opened_by_id'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_subject_requests_idempotency_key'), ['idempotency_key'])
        batch_op.drop_column('approved_by_id')
        batch_op.drop_column('opened_by_id')
    with op.batch_alter_table('consent_events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_consent_events_principal_id_principals'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_consent_events_principal_id'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_consent_events_idempotency_key'), ['idempotency_key'])
        batch_op.drop_column('principal_id')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_api_tokens_principal_id_principals'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_api_tokens_principal_id'))
        batch_op.drop_column('principal_id')
    op.drop_table('principals')
