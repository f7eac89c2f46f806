#!/bin/sh
# Runs the quickstart end to end and checks it: image, `up -d`, three page loads whose hit count
# must go 1, 2, 3, the worker's log, `down -v`. As root. Everything runs in a network namespace
# of its own (a stand-in host with only loopback), with a private state root and cgroup parent,
# so it touches neither the real host's interfaces and rules nor /var/lib/compose; and it leaves
# nothing behind: at the end it checks that no process of the stack, mount or cgroup is left,
# then removes its state root (with the image it loaded) and the archive it made. What it finds
# left is listed, and the script fails.
#
#   sudo examples/quickstart/demo.sh
#
# It builds what it runs (`cargo build --release --bin compose --example busybox_image`, quick
# when already built) as the user who ran sudo, with their cargo: sudo's PATH usually lacks
# ~/.cargo/bin. Without cargo it uses what is already built, or says what to run first.
#
# May be set: COMPOSE (a compose binary to use: then compose is not built), PROFILE (release,
# or debug to use a debug build), CARGO_TARGET_DIR, COMPOSE_ROOT (default: a new private
# directory under /tmp, removed at the end; a root given here is kept, less the image the demo
# loaded into it) and COMPOSE_CGROUP_PARENT (default compose-quickstart).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

if [ "${QUICKSTART_IN_NETNS:-}" = 1 ]; then
    # The stack, inside the network namespace the outer run made.
    readlink /proc/self/ns/net >"$QUICKSTART_WORK/netns"
    busybox ip link set lo up # busybox-static is a prerequisite anyway; iproute2 may be absent
    cd "$here"
    trap 'fail "interrupted"' INT TERM
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
    # Not `tee /dev/stderr`: reopening standard error truncates it when it is a file (a CI log).
    logs=$("$COMPOSE" logs worker) || fail "compose logs"
    echo "$logs"
    echo "$logs" | grep -q 'hits=3' || fail "worker did not log hits=3"
    echo "+ compose down -v"
    "$COMPOSE" down -v
    exit 0
fi

die() {
    echo "demo.sh: $*" >&2
    exit 1
}
[ "$(id -u)" = 0 ] || die "run as root: sudo $0"
for tool in busybox curl unshare; do
    command -v "$tool" >/dev/null ||
        die "$tool is missing (Debian: apt-get install busybox-static curl util-linux)"
done
PROFILE=${PROFILE:-release}
case $PROFILE in
release) profile_flag=" --release" ;;
debug) profile_flag= ;;
*) die "PROFILE is release or debug, not $PROFILE" ;;
esac
target=${CARGO_TARGET_DIR:-$repo/target}
make_image=$target/$PROFILE/examples/busybox_image
: "${COMPOSE:=$target/$PROFILE/compose}"
build_args="build$profile_flag --example busybox_image"
[ "$COMPOSE" = "$target/$PROFILE/compose" ] && build_args="$build_args --bin compose"

# Build as whoever ran sudo, with their cargo when they have one (rustup puts it in
# ~/.cargo/bin, which sudo's PATH lacks), so that target/ stays theirs; else with root's cargo.
cargo= as_user=
if [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
    home=$(getent passwd "$SUDO_USER" | cut -d: -f6)
    if [ -x "$home/.cargo/bin/cargo" ]; then
        cargo=$home/.cargo/bin/cargo
    else
        cargo=$(command -v cargo || true)
    fi
    if [ -n "$cargo" ] && runuser -u "$SUDO_USER" -- test -x "$cargo"; then
        as_user=$SUDO_USER
    fi
else
    cargo=$(command -v cargo || true)
fi
cargo_ran=
if [ -n "$cargo" ]; then
    echo "+ ${as_user:+(as $as_user) }cargo $build_args"
    if [ -n "$as_user" ]; then
        # shellcheck disable=SC2086 # build_args is words
        (cd "$repo" && runuser -u "$as_user" -- env HOME="$home" PATH="$(dirname "$cargo"):$PATH" \
            ${CARGO_TARGET_DIR:+CARGO_TARGET_DIR="$CARGO_TARGET_DIR"} "$cargo" $build_args) \
            || die "cargo $build_args failed"
    else
        # shellcheck disable=SC2086
        (cd "$repo" && "$cargo" $build_args) || die "cargo $build_args failed"
    fi
    cargo_ran=1
fi
if [ -z "$cargo_ran" ]; then
    if [ -x "$COMPOSE" ] && [ -x "$make_image" ]; then
        echo "demo.sh: cargo not found; using $COMPOSE and $make_image as built" >&2
    else
        die "cargo is not on root's PATH${SUDO_USER:+ nor in ~$SUDO_USER/.cargo/bin}:" \
            "first run, as yourself, cargo $build_args (in $repo)"
    fi
fi

# A private state root and archive, unless a root is given: all under $work, removed at the end.
work=$(mktemp -d /tmp/compose-quickstart.XXXXXX)
# Until the stack runs nothing can be mounted in it: a failure here just removes it.
trap 'rm -rf "$work"' EXIT
if [ -n "${COMPOSE_ROOT:-}" ]; then
    given_root=1
else
    given_root=
    COMPOSE_ROOT=$work/root
fi
export COMPOSE_ROOT COMPOSE
export COMPOSE_CGROUP_PARENT=${COMPOSE_CGROUP_PARENT:-compose-quickstart}
had_image=
if [ -n "$given_root" ] && "$COMPOSE" image inspect busybox >/dev/null 2>&1; then
    had_image=1
fi

"$make_image" "$work/busybox.tar" >/dev/null
"$COMPOSE" image load -q -i "$work/busybox.tar" >/dev/null

# Ctrl-C reaches the stack's run too, which takes it down; then the checks below still run.
trap - EXIT
trap 'echo "demo.sh: interrupted" >&2' INT TERM
rc=0
QUICKSTART_IN_NETNS=1 QUICKSTART_WORK=$work unshare --net "$0" || rc=$?

# What the promise covers: the stack's processes (they would hold the namespace), mounts under
# the state root, and the cgroups under our parent. `down` keeps the (empty) cgroup parent, as
# it keeps compose's default one; this one is ours, so it goes.
left=
netns=$(cat "$work/netns" 2>/dev/null || true)
if [ -n "$netns" ]; then
    for ns in /proc/[0-9]*/ns/net; do
        [ "$(readlink "$ns" 2>/dev/null)" = "$netns" ] || continue
        pid=${ns#/proc/}
        pid=${pid%%/*}
        left="$left
  process $pid: $(cat "/proc/$pid/cmdline" 2>/dev/null | tr '\0' ' ')"
    done
fi
mounts=$(awk -v r="$COMPOSE_ROOT/" 'index($5 "/", r) == 1 { print "  mount " $5 }' /proc/self/mountinfo)
[ -z "$mounts" ] || left="$left
$mounts"
for d in /sys/fs/cgroup/"$COMPOSE_CGROUP_PARENT" /sys/fs/cgroup/*/"$COMPOSE_CGROUP_PARENT"; do
    [ -d "$d" ] || continue
    rmdir "$d" 2>/dev/null || left="$left
  cgroup $d (not empty)"
done
if [ -n "$left" ]; then
    echo "demo.sh: left behind (kept to look at: $COMPOSE_ROOT, $work):$left" >&2
    exit 1
fi
if [ -n "$given_root" ]; then
    [ -n "$had_image" ] || "$COMPOSE" image rm busybox >/dev/null
    rm -rf "$work"
else
    rm -rf "$work" # the state root, the image in it and the archive
fi
[ "$rc" = 0 ] || exit "$rc"
echo "quickstart: OK (nothing left behind)"
