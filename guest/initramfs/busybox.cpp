#include "busybox.hpp"

#include <algorithm>
#include <array>
#include <cerrno>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/common/unique_fd.hpp>

extern char** environ;

namespace mvmm::initramfs {

std::vector<std::string> busybox_applets(const std::filesystem::path& binary) {
    const std::string name = binary.string();
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        throw_errno("busybox " + quote(name) + ": pipe");
    }
    UniqueFd read_end(fds[0]);
    UniqueFd write_end(fds[1]);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDOUT_FILENO);
    std::string arg0 = name;
    std::string arg1 = "--list-full";
    std::array<char*, 3> argv{arg0.data(), arg1.data(), nullptr};
    pid_t pid = -1;
    const int err = ::posix_spawn(&pid, name.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (err != 0) {
        throw_errno("busybox " + quote(name) + ": cannot run", err);
    }
    write_end.reset();

    std::string out;
    std::array<char, 4096> buf{};
    for (;;) {
        const ssize_t n = ::read(read_end.get(), buf.data(), buf.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        out.append(buf.data(), static_cast<std::size_t>(n));
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        throw Error("busybox " + quote(name) + ": '--list-full' failed (status " +
                    std::to_string(status) + ")");
    }

    std::vector<std::string> applets;
    for (const auto& line : split(out, '\n')) {
        const auto applet = trim(line);
        if (!applet.empty()) {
            applets.emplace_back(applet);
        }
    }
    if (applets.empty()) {
        throw Error("busybox " + quote(name) + ": '--list-full' listed no applets");
    }
    std::sort(applets.begin(), applets.end());
    return applets;
}

}  // namespace mvmm::initramfs
