#!/bin/sh
# First start of an empty PostgreSQL volume (the postgres image runs /docker-entrypoint-initdb.d/*.sh once):
# FinFlow's three databases, each owned by a login role of its own, so a leaked password opens one database only.
#   finflow  the warehouse (FINFLOW_DATABASE_URL)
#   dagster  Dagster's runs, event logs and schedules (FINFLOW_DAGSTER_PG_URL)
#   mlflow   MLflow's experiments, runs and model registry (MLFLOW_BACKEND_STORE_URI of the tracking server)
# The passwords come from deploy/.env through compose.yaml; none is written here.
set -eu

create() {  # role password database
    psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" --dbname postgres \
        --set=role="$1" --set=password="$2" --set=db="$3" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
CREATE DATABASE :"db" OWNER :"role";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
SQL
}

create finflow "${FINFLOW_DB_PASSWORD:?FINFLOW_DB_PASSWORD is not set}" finflow
create dagster "${DAGSTER_DB_PASSWORD:?DAGSTER_DB_PASSWORD is not set}" dagster
create mlflow "${MLFLOW_DB_PASSWORD:?MLFLOW_DB_PASSWORD is not set}" mlflow
