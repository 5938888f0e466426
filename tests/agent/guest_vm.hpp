// Test harness: boots the project's kernel and initramfs under
// qemu-system-x86_64 (TCG, microvm) with the agent on COM2, until the tests
// move onto the VMM's QEMU engine. Small on purpose.
//
// The kernel is $MVMM_TEST_KERNEL, else out/kernel/bzImage; the initramfs
// is the one this build made.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include <sys/types.h>

#include <mvmm/agent/agent_client.hpp>

#include "support/temp_dir.hpp"

namespace mvmm::test {

class GuestVm {
  public:
    struct Options {
        int memory_mib = 512;
        std::string cmdline_extra;
    };

    // The kernel image to boot, or nullopt with the reason in `why`.
    static std::optional<std::filesystem::path> find_kernel(std::string& why);
    static std::filesystem::path initramfs();

    // Boots and waits (up to 180 s) for the agent. Throws Error on failure,
    // with the console's tail.
    explicit GuestVm(const Options& options);
    GuestVm(const GuestVm&) = delete;
    GuestVm& operator=(const GuestVm&) = delete;
    ~GuestVm();

    agent::AgentClient& agent() { return *agent_; }
    [[nodiscard]] std::string console() const;
    // Bytes the guest wrote to the marker port.
    [[nodiscard]] std::string markers() const;

  private:
    TempDir dir_;
    pid_t qemu_ = -1;
    std::unique_ptr<agent::AgentClient> agent_;
};

}  // namespace mvmm::test
