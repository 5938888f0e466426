// Can this host's KVM run a Linux guest's user space? Checked with a
// synthetic guest that enters CPL3 and makes a SYSCALL into a CPL0 handler.
#pragma once

#include <string>

namespace mvmm {

struct KvmHostCheck {
    bool kvm_usable = false;        // /dev/kvm opens and a VM with a vCPU can be made
    bool user_space_works = false;  // the CPL3 -> SYSCALL -> CPL0 round trip completed
    std::string reason;             // one sentence: why, for logs, errors and query-status
};

// Runs the probe (a few milliseconds). Never throws; failures are in `reason`.
KvmHostCheck check_kvm_host();

}  // namespace mvmm
