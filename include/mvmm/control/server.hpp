// The control socket server: QMP on a UNIX stream socket, in the VMM.
//
// It runs on two threads of its own: one does all socket I/O for every
// client, the other runs commands one at a time against the backend. Nothing
// the engine does waits for a client: events are queued per client, and a
// client whose queue grows past its limit is disconnected.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string_view>

#include <mvmm/control/backend.hpp>
#include <mvmm/engine/events.hpp>

namespace mvmm::control {

struct ServerOptions {
    std::filesystem::path socket_path;
    std::size_t max_message_bytes = std::size_t{1} << 20;  // per client message (1 MiB)
    std::size_t max_output_bytes = std::size_t{16} << 20;  // queued for one client
    std::size_t max_clients = 256;
    // How long stop() waits for replies and events still queued to be written.
    std::chrono::milliseconds flush_timeout{2000};
};

class ControlServer {
  public:
    // Binds the socket (see ListeningSocket) and starts serving. The backend's
    // objects must outlive the server. Throws Error naming the socket.
    ControlServer(ServerOptions options, ControlBackend backend);
    ControlServer(const ControlServer&) = delete;
    ControlServer& operator=(const ControlServer&) = delete;
    ~ControlServer();

    // Sends an event to every client past capabilities negotiation. Thread-safe
    // and non-blocking: engine threads call it. It does nothing after stop();
    // the owner makes sure no thread calls it once destruction has begun.
    void publish(const EngineEvent& event);
    void publish(std::string_view name, const nlohmann::json& data,
                 std::chrono::system_clock::time_point when = std::chrono::system_clock::now());

    // Finishes the command in progress, stops taking new ones, gives queued
    // replies and events up to flush_timeout to reach their clients, closes
    // every connection and removes the socket file. Idempotent. Must not be
    // called from a command handler.
    void stop();

    [[nodiscard]] const std::filesystem::path& socket_path() const;
    // Connected clients (for logs and tests).
    [[nodiscard]] std::size_t client_count() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace mvmm::control
