// The control socket's file: made private (mode 0600), never stolen from a
// VMM that is still using it, and removed when the server ends.
#pragma once

#include <filesystem>

#include <sys/types.h>

#include <mvmm/common/unique_fd.hpp>

namespace mvmm::control {

class ListeningSocket {
  public:
    // Binds and listens on `path`. An existing socket there that accepts a
    // connection belongs to a live VMM: that is an error. One that refuses
    // connections is stale and is replaced. Anything else at the path (a file,
    // a folder) is an error. Throws Error naming the path and the reason.
    explicit ListeningSocket(std::filesystem::path path, int backlog = 128);
    ListeningSocket(const ListeningSocket&) = delete;
    ListeningSocket& operator=(const ListeningSocket&) = delete;
    ~ListeningSocket() { remove_file(); }

    // Removes the socket file if it is still the one this object made.
    // Idempotent.
    void remove_file() noexcept;

    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
    [[nodiscard]] int fd() const noexcept { return fd_.get(); }
    // Hands the listening descriptor over (e.g. to an Asio acceptor); the file
    // is still removed by this object.
    [[nodiscard]] int release_fd() noexcept { return fd_.release(); }

  private:
    std::filesystem::path path_;
    UniqueFd fd_;
    dev_t dev_ = 0;
    ino_t ino_ = 0;
    bool removed_ = false;
};

}  // namespace mvmm::control
