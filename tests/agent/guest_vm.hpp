// Test harness: boots the project's kernel and this build's initramfs with
// `mshare-vmm run` (the QEMU engine) and talks to the guest agent at the
// config's agent_socket. Small on purpose.
//
// The kernel is $MVMM_TEST_KERNEL, else out/kernel/bzImage; the initramfs is
// the one this build made (it holds this build's agent and workloads).
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include <mvmm/agent/agent_client.hpp>
#include <mvmm/qemu/child_process.hpp>

#include "support/temp_dir.hpp"

namespace mvmm::test {

class GuestVm {
  public:
    struct Options {
        int memory_mib = 512;
        int vcpus = 1;
        std::string cmdline_extra;
        // How long the guest may take to boot to a running agent.
        std::chrono::seconds boot_timeout{240};
    };

    // The kernel image to boot, or nullopt with the reason in `why`.
    static std::optional<std::filesystem::path> find_kernel(std::string& why);
    static std::filesystem::path initramfs();

    // Writes a VM config, starts `mshare-vmm run` and waits for the agent.
    // Throws Error on failure, with the end of the VMM's log and the console.
    explicit GuestVm(const Options& options);
    GuestVm(const GuestVm&) = delete;
    GuestVm& operator=(const GuestVm&) = delete;
    // Stops the VMM with SIGTERM (a clean stop that removes its files), and
    // kills it if it has not ended after 30 s.
    ~GuestVm();

    agent::AgentClient& agent() { return *agent_; }
    [[nodiscard]] const std::filesystem::path& config_file() const { return config_; }
    // The guest console (COM1), as the VMM logged it.
    [[nodiscard]] std::string console() const;
    // What `mshare-vmm run` wrote to stderr.
    [[nodiscard]] std::string vmm_log() const;
    // The VMM's exit status if it has ended (it should not while the guest runs).
    std::optional<int> vmm_ended();
    // The end of the VMM log and of the console, for failure messages.
    [[nodiscard]] std::string diagnostics() const;

  private:
    TempDir dir_;
    std::filesystem::path config_;
    std::unique_ptr<ChildProcess> vmm_;
    std::unique_ptr<agent::AgentClient> agent_;
};

}  // namespace mvmm::test
