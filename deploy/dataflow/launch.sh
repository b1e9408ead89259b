#!/usr/bin/env bash
# Launch the streaming triage job on Google Cloud Dataflow (Runner v2). Not run here: it needs
# a Google Cloud project, `pip install "apache-beam[gcp]==2.77.0"` on the launching machine and
# the worker image from deploy/docker/Dockerfile pushed to Artifact Registry.
#
#   PROJECT=my-project REGION=europe-west1 BUCKET=my-bucket \
#   IMAGE=europe-west1-docker.pkg.dev/my-project/triage/crisis-triage:0.1.0 \
#   KAFKA=10.0.0.5:9092 bash deploy/dataflow/launch.sh
#
# DRY_RUN=1 prints the command instead of running it (the tests check it that way).
# The workers need a VPC route to the Kafka brokers (--network / --subnetwork below); for
# SASL/TLS add --security-protocol SASL_SSL --sasl-mechanism SCRAM-SHA-512
# --sasl-username U --sasl-password-env VAR with VAR set in the worker image.
set -euo pipefail
: "${PROJECT:?set PROJECT}" "${REGION:?set REGION}" "${BUCKET:?set BUCKET}"
: "${IMAGE:?set IMAGE (the worker image)}" "${KAFKA:?set KAFKA (bootstrap servers)}"
TRIAGE=${TRIAGE:-triage}

cmd=(
  "$TRIAGE" run
  --bootstrap-servers "$KAFKA"
  --input-topic "${INPUT_TOPIC:-crisis.posts}"
  --output-prefix "${OUTPUT_PREFIX:-triage}"
  --group-id "${GROUP_ID:-triage-dataflow}"
  --model "${MODEL:-triage-tiny}"
  --metrics-port 9108
  --runner=DataflowRunner
  --project="$PROJECT"
  --region="$REGION"
  --temp_location="gs://$BUCKET/tmp"
  --staging_location="gs://$BUCKET/staging"
  --sdk_container_image="$IMAGE"
  --experiments=use_runner_v2
  --job_name="${JOB_NAME:-crisis-triage}"
  --max_num_workers="${MAX_WORKERS:-4}"
  --network="${NETWORK:-default}"
)
if [ "${DRY_RUN:-0}" = "1" ]; then
  printf '%q ' "${cmd[@]}"
  echo
else
  exec "${cmd[@]}"
fi
