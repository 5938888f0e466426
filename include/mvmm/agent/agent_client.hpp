// The host side of the guest agent protocol (docs/guest-agent.md): connects
// to the UNIX socket where the engine exposes the guest's COM2, finds the
// agent with the guest-sync-delimited handshake, and runs commands with time
// limits. One command at a time: calls from several threads are serialized.
//
//   mvmm::agent::AgentClient agent(config.agent_socket);
//   agent.wait_ready(std::chrono::seconds(60));
//   auto meminfo = agent.execute("guest-meminfo");
//   auto result = agent.exec({.path = "/bin/ptbench", .args = {"--mode", "mshare"}});
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

#include <mvmm/agent/json_stream.hpp>
#include <mvmm/agent/protocol.hpp>
#include <mvmm/common/error.hpp>
#include <mvmm/common/unique_fd.hpp>

namespace mvmm::agent {

// An error reply of the agent: {"error": {"class": ..., "desc": ...}}.
class AgentError : public Error {
  public:
    AgentError(const std::string& command, std::string error_class, std::string desc);
    [[nodiscard]] const std::string& error_class() const { return class_; }
    [[nodiscard]] const std::string& desc() const { return desc_; }

  private:
    std::string class_, desc_;
};

struct ExecRequest {
    std::string path{};
    std::vector<std::string> args{};
    std::vector<std::string> env{};      // NAME=VALUE, added to the agent's environment
    std::optional<std::string> input{};  // stdin bytes
    bool capture = true;
    double timeout = kDefaultExecTimeout;  // seconds, enforced by the agent
    std::size_t output_limit = kDefaultOutputLimit;
};

struct ExecResult {
    pid_t pid = -1;
    std::optional<int> exit_code;  // exited normally
    std::optional<int> signal;     // killed by a signal
    bool timed_out = false;        // killed by the agent at the time limit
    std::string out, err;          // decoded
    bool out_truncated = false, err_truncated = false;

    [[nodiscard]] bool success() const { return exit_code && *exit_code == 0; }
    // "exit code 3", "signal 9 (time limit)", ...
    [[nodiscard]] std::string describe() const;
};

class AgentClient {
  public:
    using Duration = std::chrono::milliseconds;

    explicit AgentClient(std::filesystem::path socket);
    AgentClient(const AgentClient&) = delete;
    AgentClient& operator=(const AgentClient&) = delete;

    // Connects and completes the guest-sync handshake, retrying (the socket
    // may not exist yet, the agent may not run yet) until `timeout`.
    void wait_ready(Duration timeout);

    // Runs one command; returns its "return" value. Throws AgentError for an
    // error reply and Error for a timeout, a lost connection or a restarted
    // agent. Connects and synchronises first if needed.
    nlohmann::json execute(const std::string& command,
                           const nlohmann::json& arguments = nlohmann::json::object(),
                           Duration timeout = std::chrono::seconds(10));

    // guest-exec, then guest-exec-status until the process has exited.
    // `timeout` bounds the whole wait (default: the request's limit + 30 s).
    ExecResult exec(const ExecRequest& request, std::optional<Duration> timeout = std::nullopt);
    pid_t exec_start(const ExecRequest& request);
    // nullopt while the process runs.
    std::optional<ExecResult> exec_status(pid_t pid);

    // Reads a small guest file (guest-file-read), at most `max_bytes`.
    std::string read_file(const std::string& path, std::size_t max_bytes = kDefaultFileReadBytes);

    // guest-shutdown; the connection is closed afterwards.
    void shutdown(const std::string& mode = "powerdown");

    void disconnect();
    [[nodiscard]] bool connected() const;
    [[nodiscard]] const std::filesystem::path& socket_path() const { return socket_; }
    // Whether an agent-ready event has been seen since the last call.
    bool take_ready_event();

  private:
    using Clock = std::chrono::steady_clock;
    void connect_once();
    bool try_sync(Clock::time_point deadline);
    void send(std::string_view bytes, Clock::time_point deadline, const std::string& what);
    // Next reply (parsed; events and noise skipped) before the deadline;
    // nullopt at the deadline. Throws on a lost connection, and at a
    // delimiter (the agent restarted) if `fail_at_delimiter`.
    std::optional<nlohmann::json> next_message(Clock::time_point deadline, const std::string& what,
                                               bool fail_at_delimiter);
    nlohmann::json execute_locked(const std::string& command, const nlohmann::json& arguments,
                                  Duration timeout);

    std::filesystem::path socket_;
    mutable std::mutex mutex_;
    UniqueFd fd_;
    JsonStreamSplitter splitter_{kMaxReplyBytes};
    std::vector<JsonStreamSplitter::Item> items_;
    std::size_t next_item_ = 0;
    bool synced_ = false;
    bool ready_event_ = false;
    std::uint64_t next_id_ = 1;
};

}  // namespace mvmm::agent
