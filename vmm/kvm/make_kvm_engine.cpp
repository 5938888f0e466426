// make_kvm_engine(): the host check decides whether the KVM engine may run.
#include <cstdlib>
#include <string_view>

#include <mvmm/common/error.hpp>
#include <mvmm/common/log.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/engine/factory.hpp>
#include <mvmm/kvm/host_check.hpp>

#include "kvm_engine.hpp"

namespace mvmm {

std::unique_ptr<Engine> make_kvm_engine(const EngineSetup& setup) {
    const auto check = check_kvm_host();
    if (!check.kvm_usable) {
        throw Error(cat("engine 'kvm': ", check.reason));
    }
    const char* env = std::getenv("MVMM_KVM_ALLOW_NO_USER_SPACE");
    const bool allowed =
        setup.allow_kvm_without_user_space || (env != nullptr && std::string_view(env) == "1");
    if (!check.user_space_works && !allowed) {
        throw Error(cat("engine 'kvm': ", check.reason,
                        ". Use engine 'qemu' or 'auto'; or set MVMM_KVM_ALLOW_NO_USER_SPACE=1 "
                        "to boot the guest kernel anyway (it will not get to run /init)"));
    }
    std::string reason = check.user_space_works ? cat("the config asks for KVM; ", check.reason)
                                                : cat("KVM is forced although ", check.reason);
    if (!check.user_space_works) {
        log::warn("kvm", check.reason, "; running the KVM engine anyway as asked");
    }
    return std::make_unique<kvm::KvmEngine>(setup, std::move(reason), !check.user_space_works);
}

}  // namespace mvmm
