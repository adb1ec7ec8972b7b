#!/usr/bin/env bash
# deploy/stack.sh: native local infrastructure for Intake (no Docker).
#
#   up         install what is missing, start Kafka + PostgreSQL + SeaweedFS S3, wait until ready
#   down       stop what `up` started (only our own processes, found by pid/data dir)
#   env [P]    print `export KEY=value` lines:  eval "$(deploy/stack.sh env)" (the stack's
#              admin), or those Kafka principal P runs with: gateway initiation completion
#              cleanup audit subscriber ops
#   secrets    only make the Kafka CA, broker certificate and SCRAM passwords (.state/secrets),
#              as `up` does; docker-compose.yml uses them
#   status     one line per part; exit 0 only when all parts run
#   stop-s3    stop only SeaweedFS (data kept), to simulate an S3 outage
#   start-s3   start SeaweedFS again and wait until S3 answers
#   stop-kafka   stop only Kafka (data kept), to simulate a broker outage
#   start-kafka  start Kafka again and wait until it answers
#   restart-postgres  stop PostgreSQL at once (-m immediate, like a crash) and start it again
#   reclaim-s3   give back the disk of deleted objects (SeaweedFS vacuum; benchmarks grow it)
#
# The logic is deploy/native_stack.py (standard library only, so it runs on a fresh machine
# before any virtualenv exists); this wrapper keeps the command every caller knows.
set -euo pipefail
exec python3 "$(dirname "${BASH_SOURCE[0]}")/native_stack.py" "$@"
