# Shared helpers for the set-up, run and test commands. Source it; do not run it.
# shellcheck shell=bash

MVMM_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MVMM_CACHE_DIR=${MVMM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mshare-vmm}
MVMM_BUILD_DIR=${MVMM_BUILD_DIR:-$MVMM_ROOT/build}
MVMM_JOBS=${MVMM_JOBS:-$(nproc)}
MVMM_LOG_DIR=$MVMM_BUILD_DIR/logs
export MVMM_CACHE_DIR MVMM_ROOT
# Compiler outputs are cached too (ccache, keyed by the preprocessed source and
# the flags), so a new clone or a new build folder does not recompile what an
# earlier one compiled.
export CCACHE_DIR=${CCACHE_DIR:-$MVMM_CACHE_DIR/ccache}
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G}
# CMake options that compile through ccache when it is installed.
mvmm_cmake_launcher() {
    if command -v ccache >/dev/null; then
        echo "-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache"
    fi
}

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

# Every minute while a step runs: the step's name and the last progress mark
# its log shows (make's "[ 42%]", ctest's "12/40", or the last line).
_mvmm_ticker() {
    local name=$1 log=$2
    while sleep 60; do
        local mark
        # (set -e and pipefail are inherited: a log without a mark must not
        # end the ticker)
        mark=$(grep -aoE '^\[ *[0-9]+%\]|^ *[0-9]+/[0-9]+ Test' "$log" 2>/dev/null | tail -n 1) || true
        [ -n "$mark" ] || mark=$(tail -n 1 "$log" 2>/dev/null | cut -c1-100) || true
        say "  ... $name: still running; $mark"
    done
}

# step NAME LOGFILE COMMAND...: runs COMMAND with its output in LOGFILE, prints
# a line when it starts and when it ends (and a progress line every minute),
# and the log's tail if it fails.
step() {
    local name=$1 log=$2
    shift 2
    mkdir -p "$(dirname "$log")"
    say "$name ..."
    local start=$(date +%s)
    : >"$log"
    _mvmm_ticker "$name" "$log" &
    local ticker=$!
    if "$@" >"$log" 2>&1; then
        kill "$ticker" 2>/dev/null || true
        wait "$ticker" 2>/dev/null || true
        say "$name: done in $(( $(date +%s) - start )) s"
    else
        local rc=$?
        kill "$ticker" 2>/dev/null || true
        wait "$ticker" 2>/dev/null || true
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
