"""The PostgreSQL warehouse: an embedded server by default, any server through ``FINFLOW_DATABASE_URL``."""

from .connection import connect, database_url, dbt_env, describe_url

__all__ = ["connect", "database_url", "dbt_env", "describe_url"]
