"""create unified schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24 08:03:38.337230
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# Column types spelled out here rather than imported from the app, so this file never changes
# when the models do. Money: exact NUMERIC on PostgreSQL, integer nano-dollars on SQLite.
MONEY = sa.Numeric(20, 9).with_variant(sa.BigInteger(), "sqlite")
JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', BIGINT_PK, autoincrement=True, nullable=False),
    sa.Column('timestamp', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('user_id', sa.String(length=255), nullable=True),
    sa.Column('action_type', sa.String(length=100), nullable=False),
    sa.Column('resource_type', sa.String(length=100), nullable=False),
    sa.Column('resource_id', sa.String(length=255), nullable=True),
    sa.Column('details', JSON_TYPE, nullable=True),
    sa.Column('ip_address', sa.String(length=64), nullable=True),
    sa.Column('user_agent', sa.String(length=500), nullable=True),
    sa.Column('prev_hash', sa.String(length=64), nullable=True),
    sa.Column('row_hash', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_log_action_type', ['action_type'], unique=False)
        batch_op.create_index('ix_audit_log_resource_type_resource_id', ['resource_type', 'resource_id'], unique=False)
        batch_op.create_index('ix_audit_log_timestamp', ['timestamp'], unique=False)
        batch_op.create_index('ix_audit_log_user_id', ['user_id'], unique=False)

    op.create_table('daily_cost_summary',
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('user_id', sa.String(length=255), nullable=False),
    sa.Column('provider', sa.String(length=100), nullable=False),
    sa.Column('model_id', sa.String(length=255), nullable=False),
    sa.Column('total_cost_usd', MONEY, nullable=False),
    sa.Column('total_requests', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('total_tokens', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('unpriced_requests', sa.BigInteger(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('date', 'user_id', 'provider', 'model_id', name=op.f('pk_daily_cost_summary'))
    )
    with op.batch_alter_table('daily_cost_summary', schema=None) as batch_op:
        batch_op.create_index('ix_daily_cost_summary_date', ['date'], unique=False)
        batch_op.create_index('ix_daily_cost_summary_provider_date', ['provider', 'date'], unique=False)
        batch_op.create_index('ix_daily_cost_summary_user_id_date', ['user_id', 'date'], unique=False)

    op.create_table('llm_providers',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=50), nullable=False),
    sa.Column('base_url', sa.String(length=500), nullable=True),
    sa.Column('api_key_encrypted', sa.Text(), nullable=True),
    sa.Column('api_key_hint', sa.String(length=32), nullable=True),
    sa.Column('enabled', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=255), nullable=True),
    sa.Column('metadata', JSON_TYPE, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_llm_providers')),
    sa.UniqueConstraint('name', 'type', name=op.f('uq_llm_providers_name_type'))
    )
    with op.batch_alter_table('llm_providers', schema=None) as batch_op:
        batch_op.create_index('ix_llm_providers_enabled', ['enabled'], unique=False)
        batch_op.create_index('ix_llm_providers_type', ['type'], unique=False)

    op.create_table('model_permissions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('model_id', sa.String(length=255), nullable=False),
    sa.Column('access_type', sa.String(length=20), nullable=False),
    sa.Column('access_value', sa.String(length=255), nullable=False),
    sa.Column('allowed', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=255), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_model_permissions')),
    sa.UniqueConstraint('model_id', 'access_type', 'access_value', name=op.f('uq_model_permissions_model_id_access_type_access_value'))
    )
    with op.batch_alter_table('model_permissions', schema=None) as batch_op:
        batch_op.create_index('ix_model_permissions_access_type_access_value', ['access_type', 'access_value'], unique=False)
        batch_op.create_index('ix_model_permissions_model_id', ['model_id'], unique=False)

    op.create_table('model_pricing',
    sa.Column('model_id', sa.String(length=255), nullable=False),
    sa.Column('provider', sa.String(length=100), nullable=True),
    sa.Column('input_price_per_1k', MONEY, nullable=False),
    sa.Column('output_price_per_1k', MONEY, nullable=False),
    sa.Column('cached_input_price_per_1k', MONEY, nullable=True),
    sa.Column('currency', sa.String(length=3), server_default='USD', nullable=False),
    sa.Column('last_updated', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=50), server_default='manual', nullable=False),
    sa.PrimaryKeyConstraint('model_id', name=op.f('pk_model_pricing'))
    )
    with op.batch_alter_table('model_pricing', schema=None) as batch_op:
        batch_op.create_index('ix_model_pricing_last_updated', ['last_updated'], unique=False)
        batch_op.create_index('ix_model_pricing_provider', ['provider'], unique=False)

    op.create_table('model_servers',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=50), nullable=False),
    sa.Column('location', sa.String(length=20), server_default='local', nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('port', sa.Integer(), nullable=False),
    sa.Column('gpu_id', sa.Integer(), nullable=True),
    sa.Column('auto_start', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('enabled', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('health_status', sa.String(length=20), server_default='unknown', nullable=False),
    sa.Column('last_health_check', sa.DateTime(timezone=True), nullable=True),
    sa.Column('health_latency_ms', sa.Float(), nullable=True),
    sa.Column('health_error', sa.String(length=1000), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('metadata', JSON_TYPE, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_model_servers')),
    sa.UniqueConstraint('host', 'port', name=op.f('uq_model_servers_host_port')),
    sa.UniqueConstraint('name', name=op.f('uq_model_servers_name'))
    )
    with op.batch_alter_table('model_servers', schema=None) as batch_op:
        batch_op.create_index('ix_model_servers_health_status_enabled', ['health_status', 'enabled'], unique=False)
        batch_op.create_index('ix_model_servers_location', ['location'], unique=False)
        batch_op.create_index('ix_model_servers_type', ['type'], unique=False)

    op.create_table('quota_counters',
    sa.Column('user_id', sa.String(length=255), nullable=False),
    sa.Column('rule_key', sa.String(length=100), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('user_id', 'rule_key', 'day', name=op.f('pk_quota_counters'))
    )
    op.create_table('tier_model_rules',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tier_code', sa.String(length=50), nullable=False),
    sa.Column('model_pattern', sa.String(length=255), nullable=False),
    sa.Column('allowed', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('max_requests_per_day', sa.Integer(), nullable=True),
    sa.Column('max_context_length', sa.Integer(), nullable=True),
    sa.Column('priority', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tier_model_rules')),
    sa.UniqueConstraint('tier_code', 'model_pattern', name=op.f('uq_tier_model_rules_tier_code_model_pattern'))
    )
    with op.batch_alter_table('tier_model_rules', schema=None) as batch_op:
        batch_op.create_index('ix_tier_model_rules_model_pattern', ['model_pattern'], unique=False)
        batch_op.create_index('ix_tier_model_rules_tier_code', ['tier_code'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('tier_code', sa.String(length=50), server_default='free', nullable=False),
    sa.Column('role', sa.String(length=50), server_default='user', nullable=False),
    sa.Column('disabled', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('metadata', JSON_TYPE, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users'))
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index('ix_users_tier_code', ['tier_code'], unique=False)

    op.create_table('api_keys',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('prefix', sa.String(length=20), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('user_id', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.String(length=20), server_default='user', nullable=False),
    sa.Column('agent_id', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=255), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_keys_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_keys_key_hash'))
    )
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.create_index('ix_api_keys_user_id', ['user_id'], unique=False)

    op.create_table('installed_models',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('server_id', sa.Uuid(), nullable=False),
    sa.Column('model_name', sa.String(length=255), nullable=False),
    sa.Column('file_path', sa.String(length=1000), nullable=True),
    sa.Column('size_bytes', sa.BigInteger(), nullable=True),
    sa.Column('quantization', sa.String(length=50), nullable=True),
    sa.Column('version', sa.String(length=100), server_default='', nullable=False),
    sa.Column('family', sa.String(length=100), nullable=True),
    sa.Column('context_length', sa.Integer(), nullable=True),
    sa.Column('digest', sa.String(length=128), nullable=True),
    sa.Column('status', sa.String(length=20), server_default='present', nullable=False),
    sa.Column('gone_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('installed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used', sa.DateTime(timezone=True), nullable=True),
    sa.Column('metadata', JSON_TYPE, nullable=False),
    sa.ForeignKeyConstraint(['server_id'], ['model_servers.id'], name=op.f('fk_installed_models_server_id_model_servers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_installed_models')),
    sa.UniqueConstraint('server_id', 'model_name', 'version', name=op.f('uq_installed_models_server_id_model_name_version'))
    )
    with op.batch_alter_table('installed_models', schema=None) as batch_op:
        batch_op.create_index('ix_installed_models_model_name', ['model_name'], unique=False)
        batch_op.create_index('ix_installed_models_server_id', ['server_id'], unique=False)
    # SQLite puts NULLs last in a descending index already, and rejects the NULLS LAST clause.
    nulls_last = " NULLS LAST" if op.get_context().dialect.name == "postgresql" else ""
    op.create_index('ix_installed_models_last_used', 'installed_models', [sa.text(f'last_used DESC{nulls_last}')])

    op.create_table('model_deployments',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('server_id', sa.Uuid(), nullable=False),
    sa.Column('model_id', sa.Uuid(), nullable=False),
    sa.Column('alias', sa.String(length=255), nullable=True),
    sa.Column('status', sa.String(length=20), server_default='loading', nullable=False),
    sa.Column('desired_status', sa.String(length=20), server_default='running', nullable=False),
    sa.Column('context_length', sa.Integer(), server_default='2048', nullable=False),
    sa.Column('gpu_layers', sa.Integer(), nullable=True),
    sa.Column('batch_size', sa.Integer(), nullable=True),
    sa.Column('vram_usage_mb', sa.Integer(), nullable=True),
    sa.Column('tokens_per_sec', sa.Float(), nullable=True),
    sa.Column('weight', sa.Integer(), server_default='1', nullable=False),
    sa.Column('error_message', sa.String(length=1000), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('stopped_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('metadata', JSON_TYPE, nullable=False),
    sa.ForeignKeyConstraint(['model_id'], ['installed_models.id'], name=op.f('fk_model_deployments_model_id_installed_models'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['server_id'], ['model_servers.id'], name=op.f('fk_model_deployments_server_id_model_servers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_model_deployments')),
    sa.UniqueConstraint('server_id', 'alias', name=op.f('uq_model_deployments_server_id_alias'))
    )
    with op.batch_alter_table('model_deployments', schema=None) as batch_op:
        batch_op.create_index('ix_model_deployments_alias', ['alias'], unique=False)
        batch_op.create_index('ix_model_deployments_model_id', ['model_id'], unique=False)
        batch_op.create_index('ix_model_deployments_server_id_status', ['server_id', 'status'], unique=False)
        batch_op.create_index('ix_model_deployments_status', ['status'], unique=False)

    op.create_table('llm_usage_logs',
    sa.Column('id', BIGINT_PK, autoincrement=True, nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=False),
    sa.Column('timestamp', sa.DateTime(timezone=True), nullable=False),
    sa.Column('user_id', sa.String(length=255), nullable=True),
    sa.Column('api_key_id', sa.Uuid(), nullable=True),
    sa.Column('tier_code', sa.String(length=50), nullable=True),
    sa.Column('model_id', sa.String(length=255), nullable=False),
    sa.Column('provider', sa.String(length=100), nullable=True),
    sa.Column('server_id', sa.Uuid(), nullable=True),
    sa.Column('deployment_id', sa.Uuid(), nullable=True),
    sa.Column('source', sa.String(length=50), nullable=True),
    sa.Column('prompt_tokens', sa.Integer(), server_default='0', nullable=False),
    sa.Column('cached_prompt_tokens', sa.Integer(), server_default='0', nullable=False),
    sa.Column('completion_tokens', sa.Integer(), server_default='0', nullable=False),
    sa.Column('total_tokens', sa.Integer(), server_default='0', nullable=False),
    sa.Column('usage_estimated', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('cost_usd', MONEY, nullable=True),
    sa.Column('input_price_per_1k', MONEY, nullable=True),
    sa.Column('output_price_per_1k', MONEY, nullable=True),
    sa.Column('cached_input_price_per_1k', MONEY, nullable=True),
    sa.Column('latency_ms', sa.Integer(), nullable=True),
    sa.Column('time_to_first_token_ms', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=20), server_default='success', nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('metadata', JSON_TYPE, nullable=False),
    sa.ForeignKeyConstraint(['deployment_id'], ['model_deployments.id'], name=op.f('fk_llm_usage_logs_deployment_id_model_deployments'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['server_id'], ['model_servers.id'], name=op.f('fk_llm_usage_logs_server_id_model_servers'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_llm_usage_logs')),
    sa.UniqueConstraint('request_id', name=op.f('uq_llm_usage_logs_request_id'))
    )
    with op.batch_alter_table('llm_usage_logs', schema=None) as batch_op:
        batch_op.create_index('ix_llm_usage_logs_deployment_id', ['deployment_id'], unique=False)
        batch_op.create_index('ix_llm_usage_logs_provider', ['provider'], unique=False)
        batch_op.create_index('ix_llm_usage_logs_server_id', ['server_id'], unique=False)
        batch_op.create_index('ix_llm_usage_logs_source', ['source'], unique=False)
        batch_op.create_index('ix_llm_usage_logs_timestamp_model_id', ['timestamp', 'model_id'], unique=False)
        batch_op.create_index('ix_llm_usage_logs_user_id_timestamp', ['user_id', 'timestamp'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('llm_usage_logs', schema=None) as batch_op:
        batch_op.drop_index('ix_llm_usage_logs_user_id_timestamp')
        batch_op.drop_index('ix_llm_usage_logs_timestamp_model_id')
        batch_op.drop_index('ix_llm_usage_logs_source')
        batch_op.drop_index('ix_llm_usage_logs_server_id')
        batch_op.drop_index('ix_llm_usage_logs_provider')
        batch_op.drop_index('ix_llm_usage_logs_deployment_id')

    op.drop_table('llm_usage_logs')
    with op.batch_alter_table('model_deployments', schema=None) as batch_op:
        batch_op.drop_index('ix_model_deployments_status')
        batch_op.drop_index('ix_model_deployments_server_id_status')
        batch_op.drop_index('ix_model_deployments_model_id')
        batch_op.drop_index('ix_model_deployments_alias')

    op.drop_table('model_deployments')
    with op.batch_alter_table('installed_models', schema=None) as batch_op:
        batch_op.drop_index('ix_installed_models_server_id')
        batch_op.drop_index('ix_installed_models_model_name')

    op.drop_table('installed_models')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_index('ix_api_keys_user_id')

    op.drop_table('api_keys')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index('ix_users_tier_code')

    op.drop_table('users')
    with op.batch_alter_table('tier_model_rules', schema=None) as batch_op:
        batch_op.drop_index('ix_tier_model_rules_tier_code')
        batch_op.drop_index('ix_tier_model_rules_model_pattern')

    op.drop_table('tier_model_rules')
    op.drop_table('quota_counters')
    with op.batch_alter_table('model_servers', schema=None) as batch_op:
        batch_op.drop_index('ix_model_servers_type')
        batch_op.drop_index('ix_model_servers_location')
        batch_op.drop_index('ix_model_servers_health_status_enabled')

    op.drop_table('model_servers')
    with op.batch_alter_table('model_pricing', schema=None) as batch_op:
        batch_op.drop_index('ix_model_pricing_provider')
        batch_op.drop_index('ix_model_pricing_last_updated')

    op.drop_table('model_pricing')
    with op.batch_alter_table('model_permissions', schema=None) as batch_op:
        batch_op.drop_index('ix_model_permissions_model_id')
        batch_op.drop_index('ix_model_permissions_access_type_access_value')

    op.drop_table('model_permissions')
    with op.batch_alter_table('llm_providers', schema=None) as batch_op:
        batch_op.drop_index('ix_llm_providers_type')
        batch_op.drop_index('ix_llm_providers_enabled')

    op.drop_table('llm_providers')
    with op.batch_alter_table('daily_cost_summary', schema=None) as batch_op:
        batch_op.drop_index('ix_daily_cost_summary_user_id_date')
        batch_op.drop_index('ix_daily_cost_summary_provider_date')
        batch_op.drop_index('ix_daily_cost_summary_date')

    op.drop_table('daily_cost_summary')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_user_id')
        batch_op.drop_index('ix_audit_log_timestamp')
        batch_op.drop_index('ix_audit_log_resource_type_resource_id')
        batch_op.drop_index('ix_audit_log_action_type')

    op.drop_table('audit_log')
