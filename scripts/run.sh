#!/usr/bin/env bash
# The run command: set-up (packages, VMM, initramfs, guest kernel), then boot
# configs/default.json and show what happened.
#
#   scripts/run.sh [extra options for `mshare-vmm run`]
set -euo pipefail
source "$(dirname "$0")/lib.sh"

"$MVMM_ROOT/scripts/setup.sh"

vmm=$MVMM_BUILD_DIR/vmm/app/mshare-vmm
config=$MVMM_ROOT/configs/default.json
say "booting $config (guest console follows)"
echo "----------------------------------------------------------------------"
set +e
"$vmm" run --config "$config" --console-stdout --stop-after-boot --boot-timeout 300 "$@"
rc=$?
set -e
echo "----------------------------------------------------------------------"
case $rc in
    0) say "the guest booted and the VM stopped cleanly" ;;
    3) die "the guest kernel panicked (exit status 3); see the console above" ;;
    4) die "the engine failed (exit status 4); see the message above" ;;
    5) die "the guest did not finish booting in time (exit status 5)" ;;
    *) die "mshare-vmm run exited with status $rc" ;;
esac
