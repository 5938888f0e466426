#!/usr/bin/env bash
# Set-up shared by the run and test commands: installs missing Debian
# packages, builds the VMM and guest programs, the initramfs and the guest
# kernel. Finished work is not redone: the kernel is cached by a hash of its
# inputs, the C++ build is incremental.
#
#   scripts/setup.sh [--debug-kernel] [--no-kernel]
set -euo pipefail
source "$(dirname "$0")/lib.sh"

debug_kernel=0
kernel=1
for arg in "$@"; do
    case $arg in
        --debug-kernel) debug_kernel=1 ;;
        --no-kernel) kernel=0 ;;
        *) die "setup.sh: unknown option '$arg' (known: --debug-kernel, --no-kernel)" ;;
    esac
done

# 1. Packages.
mapfile -t wanted < <(grep -v '^#' "$MVMM_ROOT/scripts/packages.txt" | sed '/^$/d')
missing=()
for pkg in "${wanted[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$pkg")
    fi
done
if [ ${#missing[@]} -gt 0 ]; then
    need_root_for_apt "${missing[@]}"
    say "installing ${#missing[@]} packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    step "apt-get update" "$MVMM_LOG_DIR/apt-update.log" apt-get update
    # apt prints its own progress; keep it visible but compact.
    apt-get install -y --no-install-recommends -o Dpkg::Progress-Fancy=0 \
        -o APT::Status-Fd=1 "${missing[@]}" 2>&1 |
        grep --line-buffered -E '^(pmstatus|dlstatus)' |
        awk -F: '{ p = int($3); if (p >= last + 10) { printf "  apt: %d%% %s\n", p, $4; last = p; fflush() } }' || true
    for pkg in "${missing[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
            die "package '$pkg' did not install; run: apt-get install $pkg"
    done
    say "packages installed"
else
    say "all ${#wanted[@]} packages already installed"
fi

# 2. The VMM, the guest programs and the initramfs (CMake, incremental).
step "configure (cmake)" "$MVMM_LOG_DIR/cmake-configure.log" \
    cmake -S "$MVMM_ROOT" -B "$MVMM_BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMVMM_WERROR=ON \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" \
    $(mvmm_cmake_launcher)
step "build the VMM, guest programs and initramfs" "$MVMM_LOG_DIR/build.log" \
    make -C "$MVMM_BUILD_DIR" -j"$MVMM_JOBS"

# 3. The guest kernel (cached outside the clone by a hash of its inputs).
if [ "$kernel" = 1 ]; then
    "$MVMM_ROOT/guest-kernel-patch/build.sh"
    if [ "$debug_kernel" = 1 ]; then
        "$MVMM_ROOT/guest-kernel-patch/build.sh" --debug
    fi
fi
say "set-up complete"
