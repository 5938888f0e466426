// A QMP client for the control socket (used by `mshare-vmm ctl` and tests).
// Blocking, one command at a time; events that arrive meanwhile are kept.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include <mvmm/common/unique_fd.hpp>
#include <mvmm/protocol/stream_splitter.hpp>

namespace mvmm::control {

class QmpClient {
  public:
    struct Options {
        std::chrono::milliseconds timeout{30000};  // for each reply
        bool negotiate = true;                     // send qmp_capabilities on connect
    };

    // Connects and reads the greeting (and negotiates, by default). Throws
    // Error naming the socket and the reason.
    explicit QmpClient(std::filesystem::path socket);
    QmpClient(std::filesystem::path socket, Options options);

    [[nodiscard]] const nlohmann::json& greeting() const noexcept { return greeting_; }
    void negotiate();

    // Runs a command and returns its "return" value. Throws
    // protocol::CommandError with the reply's class and desc on an error reply,
    // and Error on a broken connection or a timeout.
    nlohmann::json execute(std::string_view command,
                           const nlohmann::json& arguments = nlohmann::json::object());

    // Sends `request` with an id of the client's and returns the whole reply
    // ({"return": ...} or {"error": ...}).
    nlohmann::json request(nlohmann::json request);

    // The next event, from those already received or waiting up to `timeout`.
    std::optional<nlohmann::json> next_event(std::chrono::milliseconds timeout);

    // Low-level: raw bytes out, and the next message of any kind in.
    void send_raw(std::string_view bytes);
    std::optional<nlohmann::json> read_message(std::chrono::milliseconds timeout);

  private:
    std::string name() const;

    std::filesystem::path socket_;
    Options options_;
    UniqueFd fd_;
    protocol::JsonStreamSplitter splitter_;
    std::deque<nlohmann::json> messages_;  // read, not yet handed out
    std::deque<nlohmann::json> events_;
    nlohmann::json greeting_;
    std::uint64_t next_id_ = 1;
    bool negotiated_ = false;
};

}  // namespace mvmm::control
