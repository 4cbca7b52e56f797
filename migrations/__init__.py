"""Alembic environment and versions: the only way the schema changes. `models` imports every
ORM model so that Alembic's metadata sees the whole schema."""
