#!/bin/bash
# Runs once, after the InfluxDB 2.7 image's initial setup (the influx CLI is configured with the admin token).
# InfluxQL (/query, what the SUS API and Grafana use) addresses a database; map the bucket's name to the bucket.
# InfluxDB 2.x also answers through a virtual mapping; an explicit one survives renames and is visible to operators.
set -euo pipefail
bucket_id="$(influx bucket find --name "${DOCKER_INFLUXDB_INIT_BUCKET}" --hide-headers | cut -f1)"
influx v1 dbrp create --bucket-id "${bucket_id}" --db "${DOCKER_INFLUXDB_INIT_BUCKET}" --rp autogen --default ||
  echo "dbrp mapping for ${DOCKER_INFLUXDB_INIT_BUCKET} exists already"
