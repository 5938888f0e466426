#include "check_host.hpp"

#include <iostream>
#include <nlohmann/json.hpp>

#include <mvmm/kvm/host_check.hpp>

namespace mvmm::app {

void add_check_host_command(CLI::App& app) {
    auto* cmd = app.add_subcommand(
        "check-host",
        "Check whether this host's KVM can run a Linux guest's user space (a synthetic guest "
        "makes a SYSCALL from CPL3). Exits 0 if it can, 1 if not");
    auto json = std::make_shared<bool>(false);
    cmd->add_flag("--json", *json, "Print the result as JSON");
    cmd->callback([json] {
        const auto check = check_kvm_host();
        if (*json) {
            std::cout << nlohmann::json{{"kvm_usable", check.kvm_usable},
                                        {"user_space_works", check.user_space_works},
                                        {"reason", check.reason}}
                             .dump(2)
                      << "\n";
        } else {
            std::cout << "KVM usable:                  " << (check.kvm_usable ? "yes" : "no")
                      << "\n"
                      << "guest user space under KVM:  " << (check.user_space_works ? "yes" : "no")
                      << "\n"
                      << "engine 'auto' chooses:       "
                      << (check.user_space_works ? "kvm" : "qemu") << "\n"
                      << check.reason << "\n";
        }
        if (!check.user_space_works) {
            throw CLI::RuntimeError(1);
        }
    });
}

}  // namespace mvmm::app
