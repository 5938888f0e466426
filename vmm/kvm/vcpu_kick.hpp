// Getting a vCPU thread out of KVM_RUN from another thread: set
// kvm_run.immediate_exit, then send the thread a signal whose handler does
// nothing. KVM_RUN then returns EINTR whether the signal came before it
// entered the guest (immediate_exit) or while the guest ran (the signal).
#pragma once

#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>

namespace mvmm::kvm {

// The signal used for kicks (SIGRTMIN + 3); installs its handler on first use.
int kick_signal();

// Unblocks the kick signal in the calling thread (a thread may have
// inherited a mask that blocks it); returns the previous mask.
sigset_t unblock_kick_signal();

// Before each KVM_RUN the vCPU thread calls clear_immediate_exit() and then
// looks at its stop/pause requests; a requester sets the request first and
// then calls kick(). The order makes a kick impossible to lose.
void clear_immediate_exit(kvm_run* run);
void kick(kvm_run* run, pthread_t thread);

}  // namespace mvmm::kvm
