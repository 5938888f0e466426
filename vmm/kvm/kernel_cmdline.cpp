#include <mvmm/kvm/kernel_cmdline.hpp>

namespace mvmm {

std::string kvm_kernel_cmdline(bool emulated_cpl0, std::string_view extra) {
    std::string out(kKvmBaseCmdline);
    if (emulated_cpl0) {
        out += ' ';
        out += kKvmEmulationWorkarounds;
    }
    if (!extra.empty()) {
        out += ' ';
        out += extra;
    }
    return out;
}

}  // namespace mvmm
