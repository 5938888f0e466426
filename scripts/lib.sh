# Shared helpers for the set-up, run and test commands. Source it; do not run it.
# shellcheck shell=bash

MVMM_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MVMM_CACHE_DIR=${MVMM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mshare-vmm}
MVMM_BUILD_DIR=${MVMM_BUILD_DIR:-$MVMM_ROOT/build}
MVMM_JOBS=${MVMM_JOBS:-$(nproc)}
MVMM_LOG_DIR=$MVMM_BUILD_DIR/logs
export MVMM_CACHE_DIR MVMM_ROOT

_mvmm_t0=$(date +%s)

# Prints a progress line with the elapsed time since the command started.
say() {
    local now=$(( $(date +%s) - _mvmm_t0 ))
    printf '[%3d:%02d] %s\n' $((now / 60)) $((now % 60)) "$*"
}

die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# step NAME LOGFILE COMMAND...: runs COMMAND with its output in LOGFILE, prints
# a line when it starts and when it ends, and the log's tail if it fails.
step() {
    local name=$1 log=$2
    shift 2
    mkdir -p "$(dirname "$log")"
    say "$name ..."
    local start=$(date +%s)
    if "$@" >"$log" 2>&1; then
        say "$name: done in $(( $(date +%s) - start )) s"
    else
        local rc=$?
        printf '\n--- last 40 lines of %s ---\n' "$log" >&2
        tail -n 40 "$log" >&2
        die "$name failed (exit $rc); full log: $log"
    fi
}

need_root_for_apt() {
    if [ "$(id -u)" -ne 0 ]; then
        die "installing packages needs root: run this command as root (or install: $*)"
    fi
}
