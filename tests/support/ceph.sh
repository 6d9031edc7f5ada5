#!/usr/bin/env bash
# Single-node Ceph (one mon, one OSD, no mgr, cephx off) plus radosgw, all on 127.0.0.1, no
# systemd, no root: a real S3-compatible engine (SigV4, payload hashes, multipart, conditional
# writes) for the S3 storage adapter's tests.
#
#   tests/support/ceph.sh start [DIR]    start (or reuse a running one); prints `export` lines
#   tests/support/ceph.sh env [DIR]      print the `export` lines of a running cluster
#   tests/support/ceph.sh stop [DIR]     stop it (the data goes with it: DIR is wiped at start)
#   tests/support/ceph.sh status [DIR]   exit 0 when radosgw answers
#
#   eval "$(tests/support/ceph.sh start /tmp/ceph)"   # then S3_* are set for the tests
#
# DIR defaults to ${TMPDIR:-/tmp}/fetch-registry-ceph. Environment:
#   RGW_PORT (9001) MON_PORT (9010) MS_MIN/MS_MAX (9020/9059): ports on 127.0.0.1
#   OBJECTSTORE=memstore|bluestore (memstore): memstore keeps objects in RAM (capped by
#     MEMSTORE_BYTES, default 4 GiB, only what is stored is used; fastest start, right for tests); bluestore writes a 10 GiB
#     sparse file in DIR with a bounded cache (OSD_MEMORY_TARGET, default ~900 MiB): for benchmarks
#     that push more than RAM should hold.
#   S3_BUCKET (registry-test): created at start. S3_ACCESS_KEY / S3_SECRET_KEY: the keys to create.
# Prereq: apt-get install -y --no-install-recommends radosgw ceph-mon ceph-osd   (~20 s)
set -euo pipefail

CMD=${1:-start}
DIR=${2:-${TMPDIR:-/tmp}/fetch-registry-ceph}
RGW_PORT=${RGW_PORT:-9001}
MON_PORT=${MON_PORT:-9010}
MS_MIN=${MS_MIN:-9020}
MS_MAX=${MS_MAX:-9059}
OBJECTSTORE=${OBJECTSTORE:-memstore}
MEMSTORE_BYTES=${MEMSTORE_BYTES:-4294967296}
OSD_MEMORY_TARGET=${OSD_MEMORY_TARGET:-939524096}
AK=${S3_ACCESS_KEY:-RGWACCESSKEY}
SK=${S3_SECRET_KEY:-RGWSECRETKEY0123456789}
BUCKET=${S3_BUCKET:-registry-test}
REGION=${S3_REGION:-us-east-1}
ENDPOINT="http://127.0.0.1:$RGW_PORT"

say() { echo "ceph.sh: $*" >&2; }

print_env() {
  # The values the cluster was started with win over the caller's environment.
  if [ -f "$DIR/env" ]; then cat "$DIR/env"; return; fi
  echo "export S3_ENDPOINT=$ENDPOINT"
  echo "export S3_ACCESS_KEY=$AK"
  echo "export S3_SECRET_KEY=$SK"
  echo "export S3_REGION=$REGION"
  echo "export S3_BUCKET=$BUCKET"
}

endpoint_of_dir() {
  if [ -f "$DIR/env" ]; then sed -n 's/^export S3_ENDPOINT=//p' "$DIR/env"; else echo "$ENDPOINT"; fi
}

rgw_up() { curl -sf -o /dev/null --max-time 2 "$(endpoint_of_dir)/"; }

alive() { [ -f "$DIR/$1.pid" ] && kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null; }

stop() {
  local name pid
  for name in rgw osd mon; do
    if [ -f "$DIR/$name.pid" ]; then
      pid=$(cat "$DIR/$name.pid")
      kill "$pid" 2>/dev/null || true
    fi
  done
  for name in rgw osd mon; do
    if [ -f "$DIR/$name.pid" ]; then
      pid=$(cat "$DIR/$name.pid")
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$DIR/$name.pid"
    fi
  done
}

# S3 CreateBucket, signed with SigV4 by curl; an existing bucket of ours is fine.
create_bucket() {
  local code empty_sha256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
  # curl signs x-amz-content-sha256 only when it is given; RGW requires it in the signature.
  code=$(curl -s -o "$DIR/log/create-bucket.out" -w '%{http_code}' -X PUT \
    -H "x-amz-content-sha256: $empty_sha256" --aws-sigv4 "aws:amz:$REGION:s3" --user "$AK:$SK" "$ENDPOINT/$BUCKET")
  case "$code" in
    200 | 409) ;;
    *) say "creating bucket $BUCKET answered $code: $(cat "$DIR/log/create-bucket.out")"; return 1 ;;
  esac
}

start() {
  for tool in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph; do
    command -v "$tool" >/dev/null || {
      say "$tool not found; install: apt-get install -y --no-install-recommends radosgw ceph-mon ceph-osd"
      exit 1
    }
  done
  if alive rgw && alive osd && alive mon && rgw_up; then
    print_env
    return
  fi
  stop
  rm -rf "$DIR"
  mkdir -p "$DIR"/{mon/ceph-a,osd/ceph-0,rgw,run,log}
  local fsid osd_uuid id C
  fsid=$(cat /proc/sys/kernel/random/uuid)
  cat >"$DIR/ceph.conf" <<EOF
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$MON_PORT]
mon initial members = a
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc secure
ms client mode = crc secure
ms bind port min = $MS_MIN
ms bind port max = $MS_MAX
ms bind ipv6 = false
public network = 127.0.0.0/8
run dir = $DIR/run
log file = $DIR/log/\$name.log
admin socket = $DIR/run/\$name.asok
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
mon data avail warn = 1
osd crush chooseleaf type = 0
[mon]
mon data = $DIR/mon/ceph-\$id
[osd]
osd data = $DIR/osd/ceph-\$id
osd objectstore = $OBJECTSTORE
memstore device bytes = $MEMSTORE_BYTES
osd memory target = $OSD_MEMORY_TARGET
bluestore block path = $DIR/osd/ceph-\$id/block.file
bluestore block create = true
bluestore block size = 10737418240
bluestore block db create = false
bluestore block wal create = false
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT tcp_nodelay=1
rgw data = $DIR/rgw
rgw thread pool size = 64
# Deleted objects and aborted multipart parts are freed by RGW's garbage collector, by default
# two hours later: too late for a memstore OSD that tests and benchmarks fill and empty.
rgw gc obj min wait = 10
rgw gc processor period = 10
rgw gc processor max time = 10
EOF
  C="-c $DIR/ceph.conf"
  monmaptool --create --addv a "[v2:127.0.0.1:$MON_PORT]" --fsid "$fsid" "$DIR/monmap" >/dev/null
  ceph-authtool --create-keyring "$DIR/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-mon $C --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/mon.keyring"
  nohup ceph-mon $C -f -i a >"$DIR/log/mon.out" 2>&1 &
  echo $! >"$DIR/mon.pid"
  osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  id=$(timeout 30 ceph $C osd new "$osd_uuid")
  ceph-osd $C -i "$id" --mkfs --osd-uuid "$osd_uuid" >"$DIR/log/osd-mkfs.out" 2>&1
  nohup ceph-osd $C -f -i "$id" >"$DIR/log/osd.out" 2>&1 &
  echo $! >"$DIR/osd.pid"
  nohup radosgw $C -f -n client.rgw.a >"$DIR/log/rgw.out" 2>&1 &
  echo $! >"$DIR/rgw.pid"
  for _ in $(seq 1 240); do
    curl -sf -o /dev/null "$ENDPOINT/" && break
    alive rgw || break
    sleep 0.25
  done
  curl -sf -o /dev/null "$ENDPOINT/" || {
    say "radosgw did not come up; see $DIR/log"
    stop
    exit 1
  }
  timeout 60 radosgw-admin $C user create --uid=registry --display-name=registry \
    --access-key="$AK" --secret="$SK" >/dev/null
  create_bucket
  print_env >"$DIR/env.tmp"
  mv "$DIR/env.tmp" "$DIR/env"
  print_env
}

case "$CMD" in
  start) start ;;
  stop) stop ;;
  env)
    rgw_up || { say "not running in $DIR"; exit 1; }
    print_env
    ;;
  status) alive rgw && rgw_up ;;
  *)
    say "usage: ceph.sh start|stop|env|status [DIR]"
    exit 2
    ;;
esac
