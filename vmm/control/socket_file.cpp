#include <cerrno>
#include <cstring>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <mvmm/common/error.hpp>
#include <mvmm/common/log.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/control/socket_file.hpp>

namespace mvmm::control {
namespace {

sockaddr_un make_address(const std::filesystem::path& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string text = path.string();
    if (text.empty() || text.size() >= sizeof(addr.sun_path)) {
        throw Error(cat("control socket ", quote(text), ": the path must be 1 to ",
                        sizeof(addr.sun_path) - 1, " bytes long, not ", text.size()));
    }
    std::memcpy(addr.sun_path, text.data(), text.size());
    return addr;
}

UniqueFd new_socket(std::string_view what) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) {
        throw_errno(what);
    }
    return fd;
}

// Deals with whatever is at the path already.
void clear_path(const std::filesystem::path& path, const sockaddr_un& addr) {
    const std::string name = cat("control socket ", quote(path.string()));
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        if (errno == ENOENT) {
            return;
        }
        throw_errno(name);
    }
    if (!S_ISSOCK(st.st_mode)) {
        throw Error(cat(name, ": the path exists and is not a socket; refusing to replace it"));
    }
    UniqueFd probe = new_socket(name);
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
    if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0) {
        throw Error(cat(name, ": in use by a running VMM (it accepts connections); stop that VMM ",
                        "or choose another path"));
    }
    if (errno != ECONNREFUSED) {
        throw_errno(cat(name, ": cannot tell whether a VMM still uses it"));
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        throw_errno(cat(name, ": removing the stale socket"));
    }
    log::info("control", "removed stale control socket ", quote(path.string()));
}

}  // namespace

ListeningSocket::ListeningSocket(std::filesystem::path path, int backlog) : path_(std::move(path)) {
    const std::string name = cat("control socket ", quote(path_.string()));
    const sockaddr_un addr = make_address(path_);
    clear_path(path_, addr);
    fd_ = new_socket(name);
    // On Linux the socket file takes its mode from the socket's inode at bind
    // time, so this keeps it private from the first moment; the chmod below
    // covers systems where it does not.
    if (::fchmod(fd_.get(), 0600) != 0) {
        throw_errno(cat(name, ": fchmod"));
    }
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
    if (::bind(fd_.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
        throw_errno(cat(name, ": bind"));
    }
    struct stat st {};
    if (::chmod(path_.c_str(), 0600) != 0 || ::stat(path_.c_str(), &st) != 0) {
        const int err = errno;
        ::unlink(path_.c_str());
        throw_errno(cat(name, ": making it private"), err);
    }
    dev_ = st.st_dev;
    ino_ = st.st_ino;
    if (::listen(fd_.get(), backlog) != 0) {
        const int err = errno;
        ::unlink(path_.c_str());
        throw_errno(cat(name, ": listen"), err);
    }
}

void ListeningSocket::remove_file() noexcept {
    if (removed_) {
        return;
    }
    removed_ = true;
    struct stat st {};
    if (::lstat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_) {
        ::unlink(path_.c_str());
    }
}

}  // namespace mvmm::control
