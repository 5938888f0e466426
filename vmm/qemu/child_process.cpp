#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/qemu/child_process.hpp>

namespace mvmm {
namespace {

int pidfd_open(pid_t pid) {
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

int pidfd_send_signal(int pidfd, int sig) {
    return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

double cpu_seconds_of(const rusage& usage) {
    auto seconds = [](const timeval& tv) {
        return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
    };
    return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

bool is_executable_file(const std::filesystem::path& path) {
    std::error_code ec;
    return std::filesystem::is_regular_file(path, ec) && ::access(path.c_str(), X_OK) == 0;
}

// Between fork() and exec(): only async-signal-safe calls. Reports a failure
// as an errno value on `error_fd` and exits.
[[noreturn]] void exec_child(const char* path, char* const* argv, const ChildSpec& spec,
                             pid_t parent, int devnull, int error_fd) {
    auto fail = [error_fd](int err) {
        (void)!::write(error_fd, &err, sizeof err);
        ::_exit(127);
    };
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
        fail(errno);
    }
    if (::getppid() != parent) {
        ::_exit(127);  // the VMM is already gone
    }
    ::setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) {
        ::sigaction(sig, &dfl, nullptr);  // fails harmlessly for SIGKILL/SIGSTOP
    }
    const int err_target = spec.stderr_fd >= 0 ? spec.stderr_fd : devnull;
    if (::dup2(devnull, STDIN_FILENO) < 0 || ::dup2(devnull, STDOUT_FILENO) < 0 ||
        ::dup2(err_target, STDERR_FILENO) < 0) {
        fail(errno);
    }
    // Everything else closes on exec, except the descriptors handed over.
    if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
        fail(errno);
    }
    for (const int fd : spec.inherit_fds) {
        if (::fcntl(fd, F_SETFD, 0) != 0) {
            fail(errno);
        }
    }
    ::execv(path, argv);
    fail(errno);
    ::_exit(127);
}

}  // namespace

std::filesystem::path find_program(const std::string& program) {
    if (program.empty()) {
        throw Error("program name is empty");
    }
    if (program.find('/') != std::string::npos) {
        if (!is_executable_file(program)) {
            throw Error(cat("program ", quote(program), ": not an executable file"));
        }
        return program;
    }
    const char* path_env = std::getenv("PATH");
    const std::string search = path_env != nullptr ? path_env : "/usr/local/bin:/usr/bin:/bin";
    for (const auto& dir : split(search, ':')) {
        auto candidate = std::filesystem::path(dir.empty() ? "." : dir) / program;
        if (is_executable_file(candidate)) {
            return candidate;
        }
    }
    throw Error(cat("program ", quote(program), ": not found in PATH (", search, ")"));
}

ChildProcess::ChildProcess(const ChildSpec& spec) {
    if (spec.argv.empty()) {
        throw Error("child process: empty command line");
    }
    for (const int fd : spec.inherit_fds) {
        if (fd < 3) {
            throw Error(cat("child process ", quote(spec.argv[0]), ": descriptor ", fd,
                            " to hand over collides with stdin/stdout/stderr"));
        }
    }
    const auto path = find_program(spec.argv[0]);
    std::vector<std::string> args = spec.argv;
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (auto& a : args) {
        argv.push_back(a.data());
    }
    argv.push_back(nullptr);

    const UniqueFd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
    if (!devnull) {
        throw_errno("/dev/null");
    }
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
        throw_errno("child process: pipe");
    }
    UniqueFd error_read(pipe_fds[0]);
    UniqueFd error_write(pipe_fds[1]);

    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) {
        throw_errno(cat("child process ", quote(path.string()), ": fork"));
    }
    if (pid == 0) {
        exec_child(path.c_str(), argv.data(), spec, parent, devnull.get(), error_write.get());
    }
    pid_ = pid;
    error_write.reset();
    int child_errno = 0;
    ssize_t n = 0;
    do {
        n = ::read(error_read.get(), &child_errno, sizeof child_errno);
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
        wait();
        throw Error(cat("program ", quote(path.string()),
                        ": cannot be started: ", errno_text(child_errno)));
    }
    pidfd_ = UniqueFd(pidfd_open(pid_));
    if (!pidfd_) {
        const int err = errno;
        signal(SIGKILL);
        wait();
        throw_errno(cat("child process ", quote(path.string()), ": pidfd_open"), err);
    }
}

ChildProcess::~ChildProcess() {
    if (pid_ > 0 && !status_) {
        signal(SIGKILL);
        wait();
    }
}

void ChildProcess::signal(int sig) noexcept {
    if (pid_ <= 0 || status_) {
        return;
    }
    if (pidfd_) {
        pidfd_send_signal(pidfd_.get(), sig);
    } else {
        ::kill(pid_, sig);  // only before the pidfd exists, while the child cannot be reaped
    }
}

std::optional<int> ChildProcess::try_wait() {
    if (status_ || pid_ <= 0) {
        return status_;
    }
    int status = 0;
    rusage usage{};
    const pid_t r = ::wait4(pid_, &status, WNOHANG, &usage);
    if (r == pid_) {
        status_ = status;
        cpu_seconds_ = cpu_seconds_of(usage);
    } else if (r < 0 && errno != EINTR) {
        throw_errno(cat("waitpid ", pid_));
    }
    return status_;
}

int ChildProcess::wait() {
    while (!status_) {
        int status = 0;
        rusage usage{};
        const pid_t r = ::wait4(pid_, &status, 0, &usage);
        if (r == pid_) {
            status_ = status;
            cpu_seconds_ = cpu_seconds_of(usage);
        } else if (r < 0 && errno != EINTR) {
            throw_errno(cat("waitpid ", pid_));
        }
    }
    return *status_;
}

std::string describe_wait_status(int status) {
    if (WIFEXITED(status)) {
        return cat("exited with status ", WEXITSTATUS(status));
    }
    if (WIFSIGNALED(status)) {
        const char* name = ::sigdescr_np(WTERMSIG(status));
        return cat("was killed by signal ", WTERMSIG(status), " (",
                   name != nullptr ? name : "unknown", ")");
    }
    return cat("ended with wait status ", hex(static_cast<std::uint64_t>(status)));
}

}  // namespace mvmm
