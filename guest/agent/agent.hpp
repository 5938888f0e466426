// The guest agent: reads requests from one fd, writes replies to another
// (both /dev/ttyS1 in the guest, a socket in the tests), and runs the
// commands of docs/guest-agent.md.
#pragma once

#include <filesystem>
#include <functional>
#include <string>

#include <mvmm/agent/json_stream.hpp>
#include <mvmm/agent/protocol.hpp>

#include "dispatcher.hpp"
#include "exec_manager.hpp"

namespace mvmm::agent {

struct AgentOptions {
    std::filesystem::path proc_root = "/proc";
    std::filesystem::path sys_root = "/sys";
    std::size_t max_request = kMaxRequestBytes;
    // Carries out guest-shutdown ("powerdown", "reboot" or "halt") after the
    // reply is written. The guest binary powers off; tests record the call.
    std::function<void(const std::string& mode)> shutdown;
    // Called after every reply has been written (tcdrain for a tty).
    std::function<void(int fd)> flush;
};

class Agent {
  public:
    explicit Agent(AgentOptions options);

    // Serves until `in_fd` reaches end of file (or fails). Writes the
    // agent-ready event first.
    void run(int in_fd, int out_fd);

    // For tests: every reply to `bytes` fed at once, as written to the fd.
    std::string feed(std::string_view bytes);

    [[nodiscard]] const Dispatcher& dispatcher() const { return dispatcher_; }
    [[nodiscard]] ExecManager& exec() { return exec_; }

  private:
    void register_commands();
    // Replies for every item the bytes finish; after_reply actions in `then`.
    std::string process(std::string_view bytes, std::vector<std::function<void()>>& then);

    AgentOptions options_;
    Dispatcher dispatcher_;
    ExecManager exec_;
    JsonStreamSplitter splitter_;
};

// The ready event, delimiter byte included: "\xff{"event":"agent-ready",...}\n".
std::string ready_event();

}  // namespace mvmm::agent
