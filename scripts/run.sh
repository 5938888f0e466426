#!/usr/bin/env bash
# The run command: set-up (packages, VMM, initramfs, guest kernel), then boot
# configs/default.json and show what happened: the smoke scenario
# (configs/scenarios/smoke.json) boots the VM, drives it through its control
# socket and the guest agent, has two processes share an msharefs region, and
# checks from outside the guest what the kernel did.
#
#   scripts/run.sh [extra options for `mshare-vmm scenario`]
#
# Results: out/run/report.json (everything measured), out/run/junit.xml, and
# the guest's console in out/run/smoke/smoke/console.log.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

"$MVMM_ROOT/scripts/setup.sh"

vmm=$MVMM_BUILD_DIR/vmm/app/mshare-vmm
results=$MVMM_ROOT/out/run
say "booting configs/default.json and running the smoke scenario (results in ${results#"$MVMM_ROOT"/})"
set +e
"$vmm" scenario "$MVMM_ROOT/configs/scenarios/smoke.json" -o "$results" --plain "$@"
rc=$?
set -e
if [ -f "$results/report.json" ]; then
    echo "----------------------------------------------------------------------"
    python3 "$MVMM_ROOT/scripts/run-summary.py" "$results/report.json"
    echo "----------------------------------------------------------------------"
fi
case $rc in
    0) say "done; the guest's console: ${results#"$MVMM_ROOT"/}/smoke/smoke/console.log" ;;
    130) die "interrupted" ;;
    *) die "the smoke scenario failed (mshare-vmm scenario exited with status $rc); see above and $results" ;;
esac
