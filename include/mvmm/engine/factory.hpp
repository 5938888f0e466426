// Making an engine from a config. `engine: auto` picks KVM where the host
// check says KVM can run guest user space, and QEMU otherwise.
#pragma once

#include <filesystem>
#include <memory>

#include <mvmm/config/vm_config.hpp>
#include <mvmm/engine/console.hpp>
#include <mvmm/engine/engine.hpp>

namespace mvmm {

struct EngineSetup {
    // With control_socket, console_log and agent_socket filled in (see RuntimeDir).
    const VmConfig& config;
    ConsoleSink& console;
    // The VMM's private folder (mode 0700) for sockets, RAM files and logs.
    std::filesystem::path runtime_dir;
    // Run the KVM engine even where the host check says KVM cannot run guest
    // user space (the guest kernel boots, its user space cannot). The
    // environment variable MVMM_KVM_ALLOW_NO_USER_SPACE=1 does the same.
    bool allow_kvm_without_user_space = false;
};

// Throws Error if the chosen engine cannot run here, saying why.
std::unique_ptr<Engine> make_engine(const EngineSetup& setup);

// The engines themselves (vmm/kvm, vmm/qemu).
std::unique_ptr<Engine> make_kvm_engine(const EngineSetup& setup);
std::unique_ptr<Engine> make_qemu_engine(const EngineSetup& setup);

}  // namespace mvmm
