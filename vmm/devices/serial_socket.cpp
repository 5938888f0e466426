#include <array>
#include <cstring>

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <mvmm/common/error.hpp>
#include <mvmm/common/log.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/devices/serial_socket.hpp>

namespace mvmm {

SerialSocketBridge::SerialSocketBridge(std::filesystem::path path) : path_(std::move(path)) {
    const auto what = cat("agent socket ", quote(path_.string()));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const auto& text = path_.native();
    if (text.empty() || text.size() >= sizeof addr.sun_path) {
        throw Error(cat(what, ": the path must have 1 to ", sizeof addr.sun_path - 1,
                        " bytes for a UNIX socket"));
    }
    std::memcpy(addr.sun_path, text.c_str(), text.size() + 1);
    struct stat st {};
    if (::lstat(text.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            throw Error(cat(what, ": exists and is not a socket"));
        }
        ::unlink(text.c_str());  // stale, from an earlier run
    }
    listen_fd_ = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!listen_fd_) {
        throw_errno(cat(what, ": socket"));
    }
    const mode_t old_mask = ::umask(0177);
    const int rc = ::bind(listen_fd_.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
    const int bind_errno = errno;
    ::umask(old_mask);
    if (rc != 0) {
        throw_errno(cat(what, ": bind"), bind_errno);
    }
    if (::listen(listen_fd_.get(), 4) != 0) {
        throw_errno(cat(what, ": listen"));
    }
    wake_fd_ = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!wake_fd_) {
        throw_errno(cat(what, ": eventfd"));
    }
}

SerialSocketBridge::~SerialSocketBridge() {
    if (thread_.joinable()) {
        thread_.request_stop();
        wake();
        thread_.join();
    }
    std::error_code ec;
    std::filesystem::remove(path_, ec);
}

void SerialSocketBridge::start(Serial8250& uart) {
    uart_ = &uart;
    uart.set_rx_space_callback([this] { wake(); });
    thread_ = std::jthread([this](const std::stop_token& stop) { run(stop); });
}

void SerialSocketBridge::wake() {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(wake_fd_.get(), &one, sizeof one);
}

void SerialSocketBridge::guest_output(std::span<const std::uint8_t> bytes) {
    bool was_empty = false;
    {
        const std::lock_guard lock(mutex_);
        was_empty = pending_.empty();
        pending_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
        const std::size_t limit = connected_.load() ? kMaxPending : kBacklogWithoutClient;
        if (pending_.size() > limit) {
            const auto drop = pending_.size() - limit;
            pending_.erase(0, drop);
            dropped_ += drop;
        }
    }
    if (was_empty && connected_.load()) {
        wake();
    }
}

void SerialSocketBridge::close_client(const char* why) {
    if (client_fd_) {
        log::debug("devices", "agent socket: client gone (", why, ")");
        client_fd_.reset();
        connected_.store(false);
    }
}

bool SerialSocketBridge::client_hung_up() const {
    pollfd p{client_fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) {
        return false;
    }
    if ((p.revents & (POLLHUP | POLLERR)) != 0) {
        return true;
    }
    char byte = 0;
    return ::recv(client_fd_.get(), &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

void SerialSocketBridge::run(const std::stop_token& stop) {
    std::array<std::uint8_t, 4096> buf{};
    while (!stop.stop_requested()) {
        bool want_out = false;
        {
            const std::lock_guard lock(mutex_);
            want_out = !pending_.empty();
        }
        const bool want_in = uart_->rx_free() > 0;
        std::array<pollfd, 3> fds{};
        fds[0] = {listen_fd_.get(), POLLIN, 0};
        fds[1] = {wake_fd_.get(), POLLIN, 0};
        fds[2] = {client_fd_.get(),
                  static_cast<short>((want_in ? POLLIN : 0) | (want_out ? POLLOUT : 0)), 0};
        const nfds_t count = client_fd_ ? 3 : 2;
        if (::poll(fds.data(), count, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            log::error("devices", "agent socket: poll: ", errno_text(errno));
            return;
        }
        if ((fds[1].revents & POLLIN) != 0) {
            std::uint64_t value = 0;
            [[maybe_unused]] const auto n = ::read(wake_fd_.get(), &value, sizeof value);
        }
        if ((fds[0].revents & POLLIN) != 0) {
            UniqueFd fd(
                ::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
            // A client that hangs up and connects again at once shows up here
            // before its hang-up is handled below: let the new one in.
            if (fd && client_fd_ && client_hung_up()) {
                close_client("hang-up");
            }
            if (fd && client_fd_) {
                log::warn("devices", "agent socket ", quote(path_.string()),
                          ": refused a second client (one is connected)");
            } else if (fd) {
                client_fd_ = std::move(fd);
                connected_.store(true);
                log::debug("devices", "agent socket: client connected");
            }
        }
        if (count < 3 || !client_fd_) {
            continue;
        }
        const auto revents = fds[2].revents;
        if ((revents & POLLIN) != 0) {
            const std::size_t room = std::min(buf.size(), uart_->rx_free());
            const ssize_t n = ::recv(client_fd_.get(), buf.data(), room, 0);
            if (n == 0) {
                close_client("end of stream");
                continue;
            }
            if (n > 0) {
                // rx_free() only grows outside this thread, so all of it fits.
                uart_->receive(std::span(buf.data(), static_cast<std::size_t>(n)));
            } else if (errno != EAGAIN && errno != EINTR) {
                close_client("read error");
                continue;
            }
        }
        if ((revents & POLLOUT) != 0) {
            const std::lock_guard lock(mutex_);
            const ssize_t n = ::send(client_fd_.get(), pending_.data(), pending_.size(),
                                     MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0) {
                pending_.erase(0, static_cast<std::size_t>(n));
            } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
                close_client("write error");
                continue;
            }
        }
        if ((revents & (POLLHUP | POLLERR)) != 0 && (revents & POLLIN) == 0) {
            close_client("hang-up");
        }
    }
}

}  // namespace mvmm
