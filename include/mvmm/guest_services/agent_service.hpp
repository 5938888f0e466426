// The VMM's side of the guest agent, as a VmSession service and as the
// control socket's agent part (docs/control-protocol.md).
//
// After the engine starts, a thread waits for the agent's handshake (the
// agent starts late in the guest's boot) and reports the moment it answers;
// from then on the agent commands reach the guest. Before that they answer
// DeviceNotActive at once, so clients can poll.
//
// The agent socket serves one client at a time. The VMM holds it only while
// it has something to ask and hangs up after each request, so other programs
// (a test harness, socat) can talk to the agent in between.
//
//   auto agent = std::make_unique<AgentService>(config.agent_socket,
//                                               [](double s) { /* publish the event */ });
//   session.add_service(std::move(agent));
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include <mvmm/agent/agent_client.hpp>
#include <mvmm/control/backend.hpp>
#include <mvmm/session/vm_session.hpp>

namespace mvmm::guest_services {

class AgentService final : public SessionService, public control::AgentControl {
  public:
    // Called once, on the service's own thread, when the agent first answers;
    // `seconds` is the time since the VMM started.
    using ReadyHandler = std::function<void(double seconds)>;

    AgentService(std::filesystem::path socket, ReadyHandler on_ready);
    AgentService(const AgentService&) = delete;
    AgentService& operator=(const AgentService&) = delete;
    ~AgentService() override;

    [[nodiscard]] std::string_view name() const override { return "guest agent"; }
    // Starts waiting for the agent (start_waiting()).
    void after_engine_start(VmSession& session) override;
    // Starts the thread that waits for the agent's first answer. Once only.
    void start_waiting();
    // Stops waiting; later requests answer DeviceNotActive.
    void stop() noexcept override;

    // Whether the agent has answered the handshake.
    [[nodiscard]] bool ready() const noexcept { return ready_.load(); }

    // Runs one agent command (docs/guest-agent.md) and returns its "return"
    // value. Throws protocol::CommandError: DeviceNotActive before the agent
    // answered or when it does not answer now, GenericError for an error reply.
    nlohmann::json execute(const std::string& command,
                           const nlohmann::json& arguments = nlohmann::json::object(),
                           std::chrono::milliseconds timeout = std::chrono::seconds(10));

    // AgentControl. The exec id is the program's guest pid; its status is
    // {"exited": false} while it runs, then "exit-code" or "signal",
    // "stdout", "stderr", "timed-out" (killed at its time limit) and, when
    // output was cut at the agent's limit, "stdout-truncated" and
    // "stderr-truncated".
    std::uint64_t exec(const ExecRequest& request) override;
    nlohmann::json exec_status(std::uint64_t exec_id) override;
    nlohmann::json meminfo() override;

  private:
    void wait_for_agent(const std::stop_token& stop);
    void require_ready() const;

    std::filesystem::path socket_;
    ReadyHandler on_ready_;
    std::atomic<bool> ready_{false};
    std::atomic<bool> stopped_{false};
    std::mutex mutex_;  // one request at a time
    agent::AgentClient client_;
    std::jthread waiter_;
};

}  // namespace mvmm::guest_services
