// A bare UNIX stream socket for tests that must misbehave the way real
// clients do: send garbage, stop reading, hang up half-way.
#pragma once

#include <chrono>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <mvmm/common/unique_fd.hpp>

namespace mvmm::control::test {

class RawSocket {
  public:
    explicit RawSocket(const std::filesystem::path& path) {
        fd_ = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
        // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
        if (::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
            throw std::runtime_error("connect failed: " + std::string(std::strerror(errno)));
        }
    }
    int fd() const { return fd_.get(); }
    // Returns false if the peer is gone.
    bool send(std::string_view bytes) {
        while (!bytes.empty()) {
            const ssize_t n = ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n < 0) {
                return false;
            }
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }
    void shutdown_write() { ::shutdown(fd_.get(), SHUT_WR); }
    // Everything readable until `lines` "\r\n"-terminated lines arrived, the
    // peer closed, or `timeout` passed.
    std::string read_lines(std::size_t lines,
                           std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (count_lines() < lines) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) {
                break;
            }
            pollfd pfd{fd_.get(), POLLIN, 0};
            if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) {
                break;
            }
            char buffer[65536];
            const ssize_t n = ::recv(fd_.get(), buffer, sizeof(buffer), 0);
            if (n <= 0) {
                closed_ = true;
                break;
            }
            data_.append(buffer, static_cast<std::size_t>(n));
        }
        return data_;
    }
    // True once recv() reported the end of the stream (or an error).
    bool wait_closed(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        read_lines(static_cast<std::size_t>(-1), timeout);
        return closed_;
    }
    const std::string& data() const { return data_; }

  private:
    std::size_t count_lines() const {
        std::size_t n = 0;
        for (std::size_t pos = 0; (pos = data_.find("\r\n", pos)) != std::string::npos; pos += 2) {
            ++n;
        }
        return n;
    }
    UniqueFd fd_;
    std::string data_;
    bool closed_ = false;
};

}  // namespace mvmm::control::test
