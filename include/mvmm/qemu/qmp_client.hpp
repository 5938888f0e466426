// A client of QEMU's machine protocol (QMP) on a connected stream socket:
// greeting, capabilities negotiation, one command at a time, and events.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include <mvmm/common/unique_fd.hpp>

namespace mvmm {

class QmpClient {
  public:
    // Called on the client's reader thread with each event object
    // ({"event": ..., "data": ..., "timestamp": ...}). It must not call execute().
    using EventHandler = std::function<void(const nlohmann::json& event)>;
    // Called once on the reader thread when the peer has closed the connection,
    // after every event before it was handled.
    using CloseHandler = std::function<void()>;

    // Reads the greeting and negotiates capabilities, waiting at most `timeout`,
    // then starts the reader thread. `peer` names the other end in messages.
    // Throws Error if the greeting does not come or the peer closes the socket.
    QmpClient(UniqueFd socket, std::string peer, EventHandler on_event, CloseHandler on_close,
              std::chrono::milliseconds timeout);
    QmpClient(const QmpClient&) = delete;
    QmpClient& operator=(const QmpClient&) = delete;
    ~QmpClient();

    // Runs one command and returns its "return" value. Throws Error naming the
    // command on an error reply ("<class>: <desc>"), a timeout or a closed connection.
    nlohmann::json execute(std::string_view command,
                           const nlohmann::json& arguments = nlohmann::json::object(),
                           std::chrono::milliseconds timeout = std::chrono::seconds(30));
    // human-monitor-command: runs an HMP command line and returns its output.
    std::string human_monitor_command(std::string_view command_line,
                                      std::chrono::milliseconds timeout = std::chrono::seconds(30));

    // The greeting's "QMP" object.
    [[nodiscard]] const nlohmann::json& greeting() const noexcept { return greeting_; }
    [[nodiscard]] bool closed() const;

  private:
    void send(const nlohmann::json& message);
    nlohmann::json read_message_blocking(std::chrono::steady_clock::time_point deadline);
    void reader_loop(const std::stop_token& stop);
    void dispatch(const nlohmann::json& message);

    UniqueFd socket_;
    std::string peer_;
    EventHandler on_event_;
    CloseHandler on_close_;
    nlohmann::json greeting_;
    std::string buffer_;  // bytes read but not yet split into messages

    std::mutex command_mutex_;  // one command at a time
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::uint64_t next_id_ = 1;
    std::uint64_t waiting_id_ = 0;
    std::optional<nlohmann::json> reply_;
    bool closed_ = false;
    std::atomic<std::thread::id> reader_id_;
    std::jthread reader_;
};

}  // namespace mvmm
