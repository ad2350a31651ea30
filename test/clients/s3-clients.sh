#!/usr/bin/env bash
# Real S3 clients against a real cluster: aws-cli, s3cmd, rclone and restic, checking bytes at
# every step. Starts `dfs dev` (Redis, Sentinels, 3 nodes), then a second gateway with an admin API
# key over the same cluster, so every request is signed by an access key and checked. Installs the
# clients with apt-get when missing (as root). Prints "N passed, 0 failed" and exits 0 when all pass.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

need=()
command -v aws >/dev/null 2>&1 || need+=(awscli)
command -v s3cmd >/dev/null 2>&1 || need+=(s3cmd)
command -v rclone >/dev/null 2>&1 || need+=(rclone)
command -v restic >/dev/null 2>&1 || need+=(restic)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing with apt-get: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q "${need[@]}"
fi

# The clients talk plain HTTP to loopback: a CA bundle from the environment only confuses rclone.
unset AWS_CA_BUNDLE
WORK=$(mktemp -d /tmp/dfs-s3-clients.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "${KEEP:-}" = "" ]; then rm -rf "$WORK"; else echo "kept $WORK"; fi
}
trap cleanup EXIT

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
wait_for() { # file pattern seconds
  for _ in $(seq 1 "$3"); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 1; done
  echo "timed out waiting for '$2' in $1"; cat "$1"; return 1
}

DEV_PORT=$(free_port); DEV_S3=$(free_port); GW_PORT=$(free_port); S3_PORT=$(free_port)
node src/cli/main.ts dev --data "$WORK/data" --port "$DEV_PORT" --s3-port "$DEV_S3" >"$WORK/dev.log" 2>&1 &
PIDS+=($!)
wait_for "$WORK/dev.log" "dfs-mesh is running" 90
SENTINELS=$(grep -o 'sentinels: [^ ]*' "$WORK/dev.log" | head -1 | cut -d' ' -f2)

ADMIN=admin-key-for-the-s3-clients-0123
DFS_CLUSTER_SECRET_FILE="$WORK/data/cluster.secret" DFS_CLUSTER_KEY_FILE="$WORK/data/cluster.key" \
  DFS_AUTHORITY_KEY_FILE="$WORK/data/authority.key" \
  node src/cli/main.ts gateway --listen "127.0.0.1:$GW_PORT" --s3-listen "127.0.0.1:$S3_PORT" \
  --sentinels "$SENTINELS" --master-name mymaster --api-keys "$ADMIN" >"$WORK/gateway.log" 2>&1 &
PIDS+=($!)
wait_for "$WORK/gateway.log" "gateway listening" 60
GW="http://127.0.0.1:$GW_PORT"
for _ in $(seq 1 30); do
  live=$(curl -s -H "authorization: Bearer $ADMIN" "$GW/v1/nodes" | grep -o '"state":"live"' | wc -l || true)
  [ "$live" -ge 3 ] && break
  sleep 1
done

KEY_JSON=$(curl -sS -X POST -H "authorization: Bearer $ADMIN" -H "content-type: application/json" \
  -d '{"name":"clients"}' "$GW/v1/keys")
KEY_ID=$(node -e 'console.log(JSON.parse(process.argv[1]).id)' "$KEY_JSON")
KEY_SECRET=$(node -e 'console.log(JSON.parse(process.argv[1]).secret)' "$KEY_JSON")
curl -sS -o /dev/null -X PUT -H "authorization: Bearer $ADMIN" -H "content-type: application/json" \
  -d '{"bucket":"*","read":true,"write":true,"owner":true}' "$GW/v1/keys/$KEY_ID/grants"

export AWS_ACCESS_KEY_ID=$KEY_ID AWS_SECRET_ACCESS_KEY=$KEY_SECRET AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
EP="http://127.0.0.1:$S3_PORT"
PASSED=0
FAILED=0
check() { # name command...
  local name=$1; shift
  if "$@" >"$WORK/step.log" 2>&1; then
    PASSED=$((PASSED + 1)); echo "ok   $name"
  else
    FAILED=$((FAILED + 1)); echo "FAIL $name"; tail -20 "$WORK/step.log"
  fi
}

mkdir -p "$WORK/src/sub" "$WORK/back"
head -c 20000000 /dev/urandom >"$WORK/src/big.bin"   # above aws-cli's 8 MiB multipart threshold
head -c 300000 /dev/urandom >"$WORK/src/sub/mid.bin"
echo "small file" >"$WORK/src/small.txt"

# aws-cli
A=(aws --endpoint-url "$EP")
check "aws s3 mb" "${A[@]}" s3 mb s3://awscli
check "aws s3 cp (multipart)" "${A[@]}" s3 cp "$WORK/src/big.bin" s3://awscli/big.bin
check "aws s3 cp back, bytes equal" bash -c "$(printf '%q ' "${A[@]}") s3 cp s3://awscli/big.bin '$WORK/back/big.bin' && cmp '$WORK/src/big.bin' '$WORK/back/big.bin'"
check "aws s3 sync up" "${A[@]}" s3 sync "$WORK/src" s3://awscli/tree/
check "aws s3 sync down, trees equal" bash -c "$(printf '%q ' "${A[@]}") s3 sync s3://awscli/tree/ '$WORK/back/tree' && diff -r '$WORK/src' '$WORK/back/tree'"
check "aws s3 ls" bash -c "$(printf '%q ' "${A[@]}") s3 ls s3://awscli/tree/ --recursive | grep -c . | grep -qx 3"
check "aws s3 rm" bash -c "$(printf '%q ' "${A[@]}") s3 rm s3://awscli --recursive && test -z \"\$($(printf '%q ' "${A[@]}") s3 ls s3://awscli --recursive)\""
check "aws s3 rb" "${A[@]}" s3 rb s3://awscli

# s3cmd
S=(s3cmd --no-ssl --host "127.0.0.1:$S3_PORT" --host-bucket "127.0.0.1:$S3_PORT" --access_key "$KEY_ID"
  --secret_key "$KEY_SECRET" --region us-east-1 --config /dev/null)
check "s3cmd mb" "${S[@]}" mb s3://s3cmd
check "s3cmd put (multipart)" "${S[@]}" --quiet put --multipart-chunk-size-mb=5 "$WORK/src/big.bin" s3://s3cmd/big.bin
check "s3cmd get, bytes equal" bash -c "$(printf '%q ' "${S[@]}") --quiet get s3://s3cmd/big.bin '$WORK/back/s3cmd.bin' && cmp '$WORK/src/big.bin' '$WORK/back/s3cmd.bin'"
check "s3cmd ls" bash -c "$(printf '%q ' "${S[@]}") ls s3://s3cmd | grep -q big.bin"
check "s3cmd del" "${S[@]}" del s3://s3cmd/big.bin
check "s3cmd rb" "${S[@]}" rb s3://s3cmd

# rclone
export RCLONE_CONFIG_DFS_TYPE=s3 RCLONE_CONFIG_DFS_PROVIDER=Other RCLONE_CONFIG_DFS_ENDPOINT=$EP
export RCLONE_CONFIG_DFS_ACCESS_KEY_ID=$KEY_ID RCLONE_CONFIG_DFS_SECRET_ACCESS_KEY=$KEY_SECRET RCLONE_CONFIG_DFS_REGION=us-east-1
R=(rclone --config /dev/null -q)
check "rclone mkdir" "${R[@]}" mkdir dfs:rclone
check "rclone copy" "${R[@]}" copy "$WORK/src" dfs:rclone/tree
check "rclone check (hashes)" "${R[@]}" check "$WORK/src" dfs:rclone/tree
check "rclone lsf" bash -c "$(printf '%q ' "${R[@]}") lsf -R dfs:rclone/tree | grep -qx 'sub/mid.bin'"
check "rclone copy back, trees equal" bash -c "$(printf '%q ' "${R[@]}") copy dfs:rclone/tree '$WORK/back/rclone' && diff -r '$WORK/src' '$WORK/back/rclone'"
check "rclone delete" bash -c "$(printf '%q ' "${R[@]}") delete dfs:rclone/tree && test -z \"\$($(printf '%q ' "${R[@]}") lsf -R dfs:rclone)\""

# restic
export RESTIC_REPOSITORY="s3:$EP/restic/repo" RESTIC_PASSWORD=restic-test-password
check "restic init" restic init
check "restic backup" restic backup -q "$WORK/src"
check "restic check (read all data)" restic check --read-data
check "restic restore, trees equal" bash -c "restic restore latest --target '$WORK/restored' && diff -r '$WORK/src' '$WORK/restored$WORK/src'"

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
