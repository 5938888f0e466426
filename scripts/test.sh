#!/usr/bin/env bash
# The test command: the same set-up as the run command (plus the debug guest
# kernel), then every test: lint, the unit tests under ASan/UBSan, a short
# run of each fuzzer, and the whole CTest suite (unit, kvm, guest, slow).
#
#   scripts/test.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"

"$MVMM_ROOT/scripts/setup.sh" --debug-kernel

step "lint (clang-format, clang-tidy)" "$MVMM_LOG_DIR/lint.log" "$MVMM_ROOT/scripts/lint.sh"

asan=$MVMM_ROOT/build-asan
step "configure the sanitizer build" "$MVMM_LOG_DIR/asan-configure.log" \
    cmake -S "$MVMM_ROOT" -B "$asan" -DCMAKE_BUILD_TYPE=Debug -DMVMM_WERROR=ON \
    -DMVMM_SANITIZE=ON -DMVMM_BUILD_GUEST=OFF -DMVMM_BUILD_BENCHMARKS=OFF $(mvmm_cmake_launcher)
step "build the unit tests with the sanitizers" "$MVMM_LOG_DIR/asan-build.log" \
    make -C "$asan" -j"$MVMM_JOBS" unit-tests
step "unit tests under ASan and UBSan" "$MVMM_LOG_DIR/asan-test.log" \
    ctest --test-dir "$asan" -L unit --output-on-failure -j"$MVMM_JOBS"

if [ -f "$MVMM_ROOT/fuzz/CMakeLists.txt" ]; then
    fuzz=$MVMM_ROOT/build-fuzz
    step "configure the fuzz build (clang)" "$MVMM_LOG_DIR/fuzz-configure.log" \
        cmake -S "$MVMM_ROOT" -B "$fuzz" -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
        -DMVMM_FUZZ=ON -DMVMM_BUILD_GUEST=OFF -DMVMM_BUILD_BENCHMARKS=OFF -DMVMM_BUILD_TESTS=OFF \
        $(mvmm_cmake_launcher)
    step "build the fuzzers" "$MVMM_LOG_DIR/fuzz-build.log" make -C "$fuzz" -j"$MVMM_JOBS" fuzzers
    for f in "$fuzz"/fuzz/*/fuzz_*; do
        [ -x "$f" ] || continue
        step "fuzz $(basename "$f") for 20000 runs" "$MVMM_LOG_DIR/$(basename "$f").log" \
            "$f" -runs=20000 -max_len=65536 -rss_limit_mb=2048
    done
fi

# Where KVM cannot run guest user space, the KVM engine's real Linux boot
# still goes as far as the kernel's 'Run /init' (a few minutes of emulation);
# the whole suite runs it.
export MVMM_TEST_KVM_EMULATED_BOOT=${MVMM_TEST_KVM_EMULATED_BOOT:-1}
say "running the test suite (ctest; guest tests boot Linux under the QEMU engine here)"
ctest --test-dir "$MVMM_BUILD_DIR" --output-on-failure -j"$MVMM_JOBS" \
    --output-junit "$MVMM_BUILD_DIR/test-results.xml" --progress
say "all tests passed; JUnit report: $MVMM_BUILD_DIR/test-results.xml"
