#!/bin/sh
# Runs the quickstart end to end and checks it: image, `up -d`, three page loads whose hit count
# must go 1, 2, 3, the worker's log, `down -v`. As root. Everything runs in a network namespace
# of its own (a stand-in host with only loopback), with a private state root and cgroup parent,
# so it touches neither the real host's interfaces and rules nor /var/lib/compose.
#
#   sudo examples/quickstart/demo.sh        (from the repository root, after `cargo build --release`)
#
# COMPOSE (default target/release/compose), COMPOSE_ROOT and COMPOSE_CGROUP_PARENT may be set.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
COMPOSE=${COMPOSE:-$repo/target/release/compose}
export COMPOSE_ROOT=${COMPOSE_ROOT:-/tmp/compose-quickstart}
export COMPOSE_CGROUP_PARENT=${COMPOSE_CGROUP_PARENT:-compose-quickstart}
export COMPOSE

if [ "${QUICKSTART_IN_NETNS:-}" != 1 ]; then
    [ "$(id -u)" = 0 ] || { echo "demo.sh: run as root" >&2; exit 1; }
    archive=$COMPOSE_ROOT.busybox.tar
    (cd "$repo" && cargo run -q --release --example busybox_image -- "$archive")
    "$COMPOSE" image load -q -i "$archive"
    exec env QUICKSTART_IN_NETNS=1 unshare --net "$0"
fi

busybox ip link set lo up   # busybox-static is a prerequisite anyway; iproute2 may be absent
cd "$here"
fail() {
    echo "demo.sh: FAILED: $*" >&2
    "$COMPOSE" ps -a >&2 || true
    "$COMPOSE" logs >&2 || true
    "$COMPOSE" down -v -t 0 >&2 || true
    exit 1
}

echo "+ compose up -d"
"$COMPOSE" up -d || fail "up -d"
"$COMPOSE" ps
for i in 1 2 3; do
    echo "+ curl -s http://127.0.0.1:8080/"
    page=$(curl -s --max-time 10 http://127.0.0.1:8080/) || fail "curl"
    echo "$page"
    echo "$page" | grep -q "\"hits\": $i," || fail "expected hits $i"
done
sleep 6 # one more worker round
echo "+ compose logs worker"
"$COMPOSE" logs worker | tee /dev/stderr | grep -q 'hits=3' || fail "worker did not log hits=3"
echo "+ compose down -v"
"$COMPOSE" down -v
# `down` keeps the (empty) cgroup parent, as it keeps compose's default one; this one is ours.
for d in /sys/fs/cgroup/"$COMPOSE_CGROUP_PARENT" /sys/fs/cgroup/*/"$COMPOSE_CGROUP_PARENT"; do
    [ -d "$d" ] && rmdir "$d" 2>/dev/null || true
done
echo "quickstart: OK"
