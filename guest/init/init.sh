#!/bin/busybox sh
# /init of the mshare-vmm guest: mounts the file systems, applies the
# mvmm.* kernel command-line options, tells the VMM the guest is up (one byte
# to the marker port), then runs the guest agent on /dev/ttyS1 and restarts
# it whenever it exits. See docs/guest-agent.md, "The initramfs".
#
# Kernel command-line options (include/mvmm/guest_abi.h):
#   mvmm.hugepages=N   set vm.nr_hugepages to N before anything else runs
#   mvmm.noagent       do not start the agent; run a shell on the console
#   mvmm.run=PATH[,ARG...]  run PATH (with ARGs) instead of the agent, log its
#                      exit status, then reboot, which ends the VM
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
export HOME=/root

log() { echo "init: $*" > /dev/console 2>/dev/null || echo "init: $*"; }

# mount_fs TYPE DIR [OPTIONS]: mounts and logs a failure without stopping.
mount_fs() {
    mkdir -p "$2"
    if [ -n "$3" ]; then
        mount -t "$1" -o "$3" "$1" "$2" 2>/dev/null
    else
        mount -t "$1" "$1" "$2" 2>/dev/null
    fi || { log "cannot mount $1 on $2 (not in this kernel?); going on"; return 1; }
}

mount_fs proc /proc
mount_fs sysfs /sys
mount_fs devtmpfs /dev
mount_fs tmpfs /dev/shm mode=1777
mount_fs tmpfs /run mode=0755
mount_fs cgroup2 /sys/fs/cgroup
mount_fs hugetlbfs /dev/hugepages mode=1777
if [ -d /sys/fs/mshare ]; then
    mount_fs msharefs /sys/fs/mshare
else
    log "no /sys/fs/mshare: this kernel has no msharefs; going on without it"
fi

noagent=0
run=""
for word in $(cat /proc/cmdline); do
    case "$word" in
        mvmm.hugepages=*)
            pages=${word#mvmm.hugepages=}
            if echo "$pages" > /proc/sys/vm/nr_hugepages 2>/dev/null; then
                log "vm.nr_hugepages=$(cat /proc/sys/vm/nr_hugepages) (asked for $pages)"
            else
                log "cannot set vm.nr_hugepages to '$pages'; going on"
            fi
            ;;
        mvmm.noagent) noagent=1 ;;
        mvmm.run=*) run=${word#mvmm.run=} ;;
    esac
done

# The out-of-memory killer must never pick the agent or this script.
echo -1000 > /proc/self/oom_score_adj 2>/dev/null

hostname mvmm-guest 2>/dev/null
mvmm-marker || log "cannot write the boot-complete marker"
log "boot complete ($(cut -d' ' -f1 /proc/uptime) s)"

# One program instead of the agent, for runs whose result is the console:
# its output goes to the console, and the VM ends when it does.
if [ -n "$run" ]; then
    # shellcheck disable=SC2046 # split on the commas, on purpose
    set -- $(echo "$run" | tr ',' ' ')
    log "mvmm.run: running $*"
    # Programs get the usual OOM score, not /init's -1000 (as under the agent).
    (echo 0 > /proc/self/oom_score_adj; exec "$@") < /dev/null > /dev/console 2>&1
    log "mvmm.run: $1 exited with status $?"
    sync
    reboot -f
fi

if [ "$noagent" = 1 ] || [ ! -x /bin/mvmm-agent ]; then
    log "no agent; shell on the console"
    while true; do
        setsid cttyhack sh
        sleep 1
    done
fi

# The agent runs until guest-shutdown powers the guest off. If it exits for
# any other reason it is restarted after a second, so the host can always
# resynchronise with guest-sync.
while true; do
    mvmm-agent --tty /dev/ttyS1
    log "agent exited with status $?; restarting it in 1 s"
    sleep 1
done
