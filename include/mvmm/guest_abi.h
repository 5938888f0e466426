/*
 * What the VMM and the guest's own programs (init, agent) agree on.
 * C, so the static guest programs and the VMM include the same file.
 */
#ifndef MVMM_GUEST_ABI_H
#define MVMM_GUEST_ABI_H

/*
 * I/O port the guest writes single bytes to. The KVM engine serves it as a
 * device; the QEMU engine maps it to an isa-debugcon whose output the VMM reads.
 */
#define MVMM_MARKER_PORT 0xe9
/* Byte written once /init has mounted everything and is about to start the agent. */
#define MVMM_MARKER_BOOT_COMPLETE 'B'

/* The guest agent's serial line (COM2), 8N1, raw. */
#define MVMM_AGENT_TTY "/dev/ttyS1"
#define MVMM_AGENT_BAUD 115200

/* pvpanic-style port: the guest writes bit 0 on panic (KVM engine). */
#define MVMM_PVPANIC_PORT 0x505

/* Kernel command-line options read by /init. */
#define MVMM_CMDLINE_HUGEPAGES "mvmm.hugepages="   /* vm.nr_hugepages */
#define MVMM_CMDLINE_NO_AGENT "mvmm.noagent"       /* do not start the agent */
#define MVMM_CMDLINE_RUN "mvmm.run="               /* PATH[,ARG...]: run it, then reboot */

#endif /* MVMM_GUEST_ABI_H */
