// The control socket's guest agent part (mshare-guest-exec,
// mshare-guest-exec-status, mshare-query-guest-meminfo) answered by the
// guest agent at the VM's agent socket: what `mshare-vmm run` plugs into its
// ControlServer.
//
// The connection is made on the first command that needs it, not before, so
// that a VMM whose guest has no agent, or whose agent socket another client
// uses, costs nothing until asked. While the agent cannot be reached the
// commands answer DeviceNotActive with the reason; a lost connection is
// made again on the next command.
#pragma once

#include <filesystem>
#include <mutex>

#include <mvmm/agent/agent_client.hpp>
#include <mvmm/control/backend.hpp>

namespace mvmm::control {

class AgentBackend final : public AgentControl {
  public:
    explicit AgentBackend(std::filesystem::path agent_socket);

    // The exec id is the guest pid of the program.
    std::uint64_t exec(const ExecRequest& request) override;
    // {"exited": false} while it runs; then "exit-code" or "signal",
    // "stdout", "stderr", and "timed-out" (killed at its time limit).
    nlohmann::json exec_status(std::uint64_t exec_id) override;
    nlohmann::json meminfo() override;

  private:
    // Runs `call` with a synchronised connection; maps agent failures to
    // control-protocol errors.
    template <typename Call>
    auto with_agent(const char* what, Call&& call);

    std::mutex mutex_;
    agent::AgentClient client_;
    bool ready_ = false;
};

}  // namespace mvmm::control
