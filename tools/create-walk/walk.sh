#!/bin/bash
# walk.sh SRC_DIR [NAME]: lists the files of crm whose statements one
# `POST /api/v1/leads` runs in `crm serve` and that start-up, a health check
# and shutdown do not: the files the write of one create walks through. It
# builds a coverage binary from SRC_DIR (any checkout of crm, old or new),
# runs `crm serve` twice on a scratch database of the Postgres at PGHOST
# (default 127.0.0.1, user postgres) — once idle, once with the create — and
# diffs the two coverage profiles. Used for issue 14's measure; not run by CI.
set -euo pipefail
src=$(cd "$1" && pwd); name=${2:-walk}
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
pg=${PGHOST:-127.0.0.1}
(cd "$src" && go build -cover -coverpkg=./... -o "$out/crm" ./cmd/crm)
db=walk_$name
dropdb --if-exists -h "$pg" -U postgres "$db" 2>/dev/null; createdb -h "$pg" -U postgres "$db"
trap 'dropdb -h "$pg" -U postgres "$db"; rm -rf "$out"' EXIT
export DATABASE_URL="postgres://postgres@$pg:5432/$db?sslmode=disable" CRM_METRICS_ADDR= CRM_ADDR=127.0.0.1:18099 CRM_PHOTO_DIR=$out/photos
mkdir -p "$out/setup"
GOCOVERDIR=$out/setup "$out/crm" migrate >/dev/null 2>&1
key=$(GOCOVERDIR=$out/setup "$out/crm" keys create --tenant walk 2>/dev/null | tail -1)
for run in idle create; do
	mkdir -p "$out/$run"
	GOCOVERDIR=$out/$run "$out/crm" serve >"$out/$run.log" 2>&1 &
	pid=$!
	for _ in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:18099/healthz && break; sleep 0.1; done
	sleep 3 # both runs see the same background ticks
	if [ $run = create ]; then
		curl -s -o /dev/null -X POST -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
			-d '{"name":"Walk Test","email":"walk@example.com","phone":"+919876543210"}' http://127.0.0.1:18099/api/v1/leads
	fi
	kill -TERM $pid; wait $pid || true
	go tool covdata textfmt -i="$out/$run" -o "$out/$run.txt"
done
python3 - "$out" <<'PY'
import collections, sys
def blocks(path):
    m = collections.Counter()
    for line in open(path):
        if not line.startswith('mode:'):
            m[line.rsplit(' ', 2)[0]] += int(line.split()[-1])
    return m
idle, create = blocks(sys.argv[1] + '/idle.txt'), blocks(sys.argv[1] + '/create.txt')
files = sorted({k.split(':')[0] for k in create if create[k] > 0 and idle.get(k, 0) == 0})
print('\n'.join(files)); print(len(files), 'files')
PY
