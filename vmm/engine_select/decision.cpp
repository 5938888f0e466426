#include <cstdlib>
#include <string_view>

#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/engine_select/decision.hpp>

namespace mvmm {

bool kvm_forced_by_environment() {
    const char* env = std::getenv("MVMM_KVM_ALLOW_NO_USER_SPACE");
    return env != nullptr && std::string_view(env) == "1";
}

EngineDecision decide_engine(EngineChoice requested, const std::optional<KvmHostCheck>& host,
                             const std::string& qemu_accel, bool kvm_forced) {
    // The host check's reason is a whole sentence ("KVM cannot run guest user space here: ...").
    const std::string why_not =
        !host ? std::string("this build of mshare-vmm has no KVM engine") : host->reason;
    switch (requested) {
        case EngineChoice::qemu:
            return {EngineChoice::qemu,
                    cat("engine 'qemu' in the config: QEMU (accel ", qemu_accel, ")")};
        case EngineChoice::kvm:
            if (host && host->user_space_works) {
                return {EngineChoice::kvm, cat("engine 'kvm' in the config; ", host->reason)};
            }
            if (host && host->kvm_usable && kvm_forced) {
                return {EngineChoice::kvm,
                        cat("engine 'kvm' in the config, forced by MVMM_KVM_ALLOW_NO_USER_SPACE=1 "
                            "although ",
                            host->reason)};
            }
            throw Error(cat("engine 'kvm': ", why_not,
                            "; use engine 'auto' or 'qemu' to run the VM in QEMU instead",
                            host && host->kvm_usable
                                ? " (or set MVMM_KVM_ALLOW_NO_USER_SPACE=1 to boot the guest "
                                  "kernel under KVM anyway; it cannot get past 'Run /init')"
                                : ""));
        case EngineChoice::automatic:
            if (host && host->user_space_works) {
                return {EngineChoice::kvm, cat("engine 'auto': KVM, because ", host->reason)};
            }
            return {EngineChoice::qemu,
                    cat("engine 'auto': QEMU (accel ", qemu_accel, "), because ", why_not)};
    }
    throw Error("engine choice: unknown value");
}

}  // namespace mvmm
