// mvmm-agent: the guest agent. /init runs it on /dev/ttyS1:
//
//   mvmm-agent [--tty PATH]     serve on a serial line (raw, 115200 8N1)
//   mvmm-agent --stdio          serve on stdin/stdout (for trying it by hand)
#include <cerrno>
#include <cstring>
#include <iostream>
#include <string>

#include <fcntl.h>
#include <signal.h>
#include <sys/reboot.h>
#include <termios.h>
#include <unistd.h>

#include <mvmm/common/error.hpp>
#include <mvmm/common/unique_fd.hpp>
#include <mvmm/guest_abi.h>

#include "agent.hpp"

namespace {

void set_raw(int fd, const std::string& path) {
    termios t{};
    if (::tcgetattr(fd, &t) != 0) {
        mvmm::throw_errno("mvmm-agent: " + path + ": not a terminal");
    }
    ::cfmakeraw(&t);
    t.c_cflag |= CLOCAL | CREAD;
    t.c_cflag &= ~static_cast<tcflag_t>(CRTSCTS);
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    static_assert(MVMM_AGENT_BAUD == 115200, "the agent sets B115200");
    ::cfsetispeed(&t, B115200);
    ::cfsetospeed(&t, B115200);
    if (::tcsetattr(fd, TCSANOW, &t) != 0) {
        mvmm::throw_errno("mvmm-agent: " + path + ": tcsetattr");
    }
    ::tcflush(fd, TCIOFLUSH);
}

void shield_from_oom_killer() {
    const int fd = ::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        [[maybe_unused]] const ssize_t n = ::write(fd, "-1000", 5);
        ::close(fd);
    }
}

void shutdown_guest(const std::string& mode) {
    ::sync();
    int cmd = RB_POWER_OFF;
    if (mode == "reboot") {
        cmd = RB_AUTOBOOT;
    } else if (mode == "halt") {
        cmd = RB_HALT_SYSTEM;
    }
    if (::reboot(cmd) != 0) {
        std::cerr << "mvmm-agent: reboot(" << mode << "): " << std::strerror(errno) << '\n';
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::string tty = MVMM_AGENT_TTY;
    bool stdio = false;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--tty" && i + 1 < argc) {
            tty = argv[++i];
        } else if (arg == "--stdio") {
            stdio = true;
        } else {
            std::cerr << "usage: " << argv[0] << " [--tty PATH | --stdio]\n";
            return 2;
        }
    }
    ::signal(SIGPIPE, SIG_IGN);
    shield_from_oom_killer();
    try {
        mvmm::agent::AgentOptions options;
        options.shutdown = shutdown_guest;
        if (stdio) {
            mvmm::agent::Agent agent(options);
            agent.run(STDIN_FILENO, STDOUT_FILENO);
            return 0;
        }
        mvmm::UniqueFd fd(::open(tty.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC));
        if (!fd) {
            mvmm::throw_errno("mvmm-agent: open " + tty);
        }
        set_raw(fd.get(), tty);
        options.flush = [](int out) { ::tcdrain(out); };
        mvmm::agent::Agent agent(options);
        agent.run(fd.get(), fd.get());
        std::cerr << "mvmm-agent: " << tty << ": end of input\n";
        return 1;
    } catch (const std::exception& e) {
        std::cerr << e.what() << '\n';
        return 1;
    }
}
