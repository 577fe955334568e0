"""protect audit log: append-only triggers and a hash chain computed in the database

On PostgreSQL a BEFORE INSERT trigger chains every row, whoever writes it (this service, another
service, a person with psql): it takes a transaction-scoped advisory lock so that concurrent
writers chain one after another, assigns the id under that lock (so id order is chain order), and
stores prev_hash and row_hash. UPDATE, DELETE and TRUNCATE raise.

On SQLite, which has no SHA-256 in SQL, `audit_service.record()` computes the chain; triggers
make UPDATE and DELETE abort (SQLite has no TRUNCATE).

The canonical text hashed for a row is documented in `unillm.audit.chain`; both must agree.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AUDIT_CHAIN_LOCK_ID = 0x61756469745F6C  # "audit_l"

POSTGRES_UPGRADE = [
    # The chain trigger assigns the id under its lock; a column default would only burn numbers.
    "ALTER TABLE audit_log ALTER COLUMN id DROP DEFAULT",
    """
    CREATE FUNCTION audit_log_reject_change() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'audit rows are never changed or removed; record a new action instead';
    END;
    $$ LANGUAGE plpgsql
    """,
    f"""
    CREATE FUNCTION audit_log_chain() RETURNS trigger AS $$
    DECLARE
        previous text;
        canonical text;
        ts text;
        details_text text;
    BEGIN
        PERFORM pg_advisory_xact_lock({AUDIT_CHAIN_LOCK_ID});
        NEW.id := nextval(pg_get_serial_sequence('audit_log', 'id'));
        IF NEW.timestamp IS NULL THEN
            NEW.timestamp := now();
        END IF;
        SELECT row_hash INTO previous FROM audit_log ORDER BY id DESC LIMIT 1;
        NEW.prev_hash := previous;
        ts := to_char(NEW.timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US');
        details_text := NEW.details::text;
        canonical := concat(
            length(NEW.id::text), ':', NEW.id::text, '|',
            length(ts), ':', ts, '|',
            length(coalesce(NEW.user_id, '')), ':', coalesce(NEW.user_id, ''), '|',
            length(NEW.action_type), ':', NEW.action_type, '|',
            length(NEW.resource_type), ':', NEW.resource_type, '|',
            length(coalesce(NEW.resource_id, '')), ':', coalesce(NEW.resource_id, ''), '|',
            length(coalesce(details_text, '')), ':', coalesce(details_text, ''), '|',
            length(coalesce(NEW.ip_address, '')), ':', coalesce(NEW.ip_address, ''), '|',
            length(coalesce(NEW.user_agent, '')), ':', coalesce(NEW.user_agent, ''), '|',
            length(coalesce(previous, '')), ':', coalesce(previous, '')
        );
        NEW.row_hash := encode(sha256(convert_to(canonical, 'UTF8')), 'hex');
        RETURN NEW;
    END;
    $$ LANGUAGE plpgsql
    """,
    """
    CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log
        FOR EACH ROW EXECUTE FUNCTION audit_log_chain()
    """,
    """
    CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION audit_log_reject_change()
    """,
    """
    CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION audit_log_reject_change()
    """,
    """
    CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
        FOR EACH STATEMENT EXECUTE FUNCTION audit_log_reject_change()
    """,
]

POSTGRES_DOWNGRADE = [
    "DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log",
    "DROP TRIGGER IF EXISTS audit_log_no_delete ON audit_log",
    "DROP TRIGGER IF EXISTS audit_log_no_update ON audit_log",
    "DROP TRIGGER IF EXISTS audit_log_chain ON audit_log",
    "DROP FUNCTION IF EXISTS audit_log_chain()",
    "DROP FUNCTION IF EXISTS audit_log_reject_change()",
    "ALTER TABLE audit_log ALTER COLUMN id SET DEFAULT nextval(pg_get_serial_sequence('audit_log', 'id'))",
]

SQLITE_UPGRADE = [
    """
    CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN
        SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE is not allowed');
    END
    """,
    """
    CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    BEGIN
        SELECT RAISE(ABORT, 'audit_log is append-only: DELETE is not allowed');
    END
    """,
]

SQLITE_DOWNGRADE = [
    "DROP TRIGGER IF EXISTS audit_log_no_delete",
    "DROP TRIGGER IF EXISTS audit_log_no_update",
]


def _statements(postgres: list[str], sqlite: list[str]) -> list[str]:
    return postgres if op.get_context().dialect.name == "postgresql" else sqlite


def upgrade() -> None:
    for statement in _statements(POSTGRES_UPGRADE, SQLITE_UPGRADE):
        op.execute(statement)


def downgrade() -> None:
    for statement in _statements(POSTGRES_DOWNGRADE, SQLITE_DOWNGRADE):
        op.execute(statement)
