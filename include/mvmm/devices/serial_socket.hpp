// Connects a UART to a UNIX stream socket: the engine's agent channel (COM2).
// The bridge listens at a path; one client at a time connects, and bytes go
// both ways. Bytes from the client enter the UART only as fast as the guest
// reads them; bytes the guest sends while no client is connected are kept
// (the last 64 KiB) and delivered when one connects.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <span>
#include <string>
#include <thread>

#include <mvmm/common/unique_fd.hpp>
#include <mvmm/devices/serial8250.hpp>

namespace mvmm {

class SerialSocketBridge {
  public:
    // Creates the listening socket (mode 0600). A stale socket at `path` is
    // replaced; any other file there is an Error, as is a path too long for
    // a UNIX socket address.
    explicit SerialSocketBridge(std::filesystem::path path);
    SerialSocketBridge(const SerialSocketBridge&) = delete;
    SerialSocketBridge& operator=(const SerialSocketBridge&) = delete;
    // Stops the thread, closes the sockets and removes the socket file.
    ~SerialSocketBridge();

    // Starts serving `uart`, which must outlive the bridge.
    void start(Serial8250& uart);

    // The UART's transmit sink: queues bytes for the client. Never blocks.
    void guest_output(std::span<const std::uint8_t> bytes);

    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
    [[nodiscard]] bool client_connected() const noexcept { return connected_.load(); }

    static constexpr std::size_t kBacklogWithoutClient = 64 * 1024;
    static constexpr std::size_t kMaxPending = 4 * 1024 * 1024;

  private:
    void wake();
    void run(const std::stop_token& stop);
    void close_client(const char* why);
    // Whether the connected client has closed its end (checked without blocking).
    [[nodiscard]] bool client_hung_up() const;

    std::filesystem::path path_;
    UniqueFd listen_fd_;
    UniqueFd wake_fd_;
    UniqueFd client_fd_;  // owned by the thread
    Serial8250* uart_ = nullptr;
    std::atomic<bool> connected_{false};

    std::mutex mutex_;
    std::string pending_;  // guest -> client
    std::uint64_t dropped_ = 0;

    std::jthread thread_;
};

}  // namespace mvmm
