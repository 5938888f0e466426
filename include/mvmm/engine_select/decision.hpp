// Which engine runs the VM, and why: the rule behind make_engine().
//   qemu: always QEMU.
//   kvm:  KVM, if the host check says KVM can run guest user space; else an error.
//   auto: KVM where the host check says it can run guest user space, QEMU otherwise.
#pragma once

#include <optional>
#include <string>

#include <mvmm/config/vm_config.hpp>
#include <mvmm/kvm/host_check.hpp>

namespace mvmm {

struct EngineDecision {
    EngineChoice engine = EngineChoice::qemu;  // kvm or qemu, never automatic
    std::string reason;                        // one sentence for the log and query-status
};

// `host` is the KVM host check, or nullopt if this build has no KVM engine.
// `qemu_accel` names QEMU's accelerator in the reason. Throws Error if the
// config asks for KVM and it cannot run guest user space here, unless
// `kvm_forced` (MVMM_KVM_ALLOW_NO_USER_SPACE=1) and KVM is usable at all:
// then the guest kernel boots under KVM as far as it can.
EngineDecision decide_engine(EngineChoice requested, const std::optional<KvmHostCheck>& host,
                             const std::string& qemu_accel, bool kvm_forced = false);

// Whether the environment forces the KVM engine where it cannot run guest
// user space: MVMM_KVM_ALLOW_NO_USER_SPACE=1.
bool kvm_forced_by_environment();

}  // namespace mvmm
