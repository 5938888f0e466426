#include "exec_manager.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mvmm/agent/base64.hpp>
#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>

#include "command_error.hpp"

extern char** environ;

namespace mvmm::agent {
namespace {

using nlohmann::json;

UniqueFd make_input(const std::optional<std::string>& input) {
    if (!input) {
        UniqueFd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
        if (!fd) {
            throw CommandError(cat("guest-exec: cannot open /dev/null: ", errno_text(errno)));
        }
        return fd;
    }
    UniqueFd fd(::memfd_create("guest-exec-input", MFD_CLOEXEC));
    if (!fd) {
        throw CommandError(cat("guest-exec: cannot hold the input: ", errno_text(errno)));
    }
    std::size_t done = 0;
    while (done < input->size()) {
        const ssize_t n = ::write(fd.get(), input->data() + done, input->size() - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            throw CommandError(cat("guest-exec: cannot hold the input: ", errno_text(errno)));
        }
        done += static_cast<std::size_t>(n);
    }
    ::lseek(fd.get(), 0, SEEK_SET);
    return fd;
}

struct Pipe {
    UniqueFd read, write;
};

Pipe make_pipe(const char* what) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        throw CommandError(cat("guest-exec: cannot make the ", what, " pipe: ", errno_text(errno)));
    }
    return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// Runs in the child between fork and exec: only async-signal-safe calls.
[[noreturn]] void child(int in, int out, int err, int report, char* const* argv,
                        char* const* envp) {
    ::setsid();
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig = 1; sig < NSIG; ++sig) {
        ::signal(sig, SIG_DFL);  // the agent ignores SIGPIPE; the program must not
    }
    // The agent is shielded from the OOM killer; the programs it runs are not.
    const int adj = ::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (adj >= 0) {
        [[maybe_unused]] const ssize_t ignored = ::write(adj, "0", 1);
        ::close(adj);
    }
    if (::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) {
        const int e = errno;
        [[maybe_unused]] const ssize_t ignored = ::write(report, &e, sizeof e);
        ::_exit(127);
    }
    ::execvpe(argv[0], argv, envp);
    const int e = errno;
    [[maybe_unused]] const ssize_t ignored = ::write(report, &e, sizeof e);
    ::_exit(127);
}

std::vector<std::string> merged_environment(const std::vector<std::string>& extra) {
    std::vector<std::string> env;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        env.emplace_back(*e);
    }
    for (const auto& add : extra) {
        const auto name = add.substr(0, add.find('=') + 1);
        std::erase_if(env,
                      [&](const std::string& e) { return e.compare(0, name.size(), name) == 0; });
        env.push_back(add);
    }
    return env;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
    std::vector<char*> out;
    out.reserve(strings.size() + 1);
    for (auto& s : strings) {
        out.push_back(s.data());
    }
    out.push_back(nullptr);
    return out;
}

void set_nonblocking(int fd) {
    const int flags = ::fcntl(fd, F_GETFL);
    ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

}  // namespace

ExecManager::~ExecManager() {
    for (auto& [pid, job] : jobs_) {
        if (!job.exited) {
            ::kill(-pid, SIGKILL);
            ::kill(pid, SIGKILL);
            int status = 0;
            while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
        }
    }
}

pid_t ExecManager::start(const ExecSpec& spec) {
    if (spec.path.empty()) {
        throw CommandError("guest-exec: argument 'path' is empty");
    }
    if (running() >= kMaxRunningExecs) {
        throw CommandError(
            cat("guest-exec: ", kMaxRunningExecs,
                " commands are running already; collect one with guest-exec-status"));
    }
    for (const auto& e : spec.env) {
        if (e.find('=') == std::string::npos || e.front() == '=') {
            throw CommandError("guest-exec: env entry " + quote(e) + " is not NAME=VALUE");
        }
    }
    std::vector<std::string> argv_strings{spec.path};
    argv_strings.insert(argv_strings.end(), spec.args.begin(), spec.args.end());
    auto env_strings = merged_environment(spec.env);
    auto argv = pointers(argv_strings);
    auto envp = pointers(env_strings);

    UniqueFd input = make_input(spec.input);
    UniqueFd null_out;
    Pipe out, err;
    if (spec.capture) {
        out = make_pipe("stdout");
        err = make_pipe("stderr");
    } else {
        null_out = UniqueFd(::open("/dev/null", O_WRONLY | O_CLOEXEC));
        if (!null_out) {
            throw CommandError(cat("guest-exec: cannot open /dev/null: ", errno_text(errno)));
        }
    }
    Pipe report = make_pipe("status");

    const pid_t pid = ::fork();
    if (pid < 0) {
        throw CommandError(cat("guest-exec: fork: ", errno_text(errno)));
    }
    if (pid == 0) {
        const int o = spec.capture ? out.write.get() : null_out.get();
        const int e = spec.capture ? err.write.get() : null_out.get();
        child(input.get(), o, e, report.write.get(), argv.data(), envp.data());
    }
    report.write.reset();
    out.write.reset();
    err.write.reset();

    // The report pipe closes at exec (O_CLOEXEC) or carries the errno.
    int child_errno = 0;
    ssize_t n = 0;
    do {
        n = ::read(report.read.get(), &child_errno, sizeof child_errno);
    } while (n < 0 && errno == EINTR);
    if (n == static_cast<ssize_t>(sizeof child_errno)) {
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        throw CommandError("guest-exec: cannot run " + quote(spec.path) + ": " +
                           errno_text(child_errno));
    }

    Job job;
    job.pid = pid;
    job.pidfd = UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    if (!job.pidfd) {
        const int e = errno;
        ::kill(-pid, SIGKILL);
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        throw CommandError(cat("guest-exec: pidfd_open: ", errno_text(e)));
    }
    job.out.fd = std::move(out.read);
    job.err.fd = std::move(err.read);
    for (const auto* s : {&job.out, &job.err}) {
        if (s->fd) {
            set_nonblocking(s->fd.get());
        }
    }
    job.limit = spec.output_limit;
    const double seconds = std::min(spec.timeout, kMaxExecTimeout);
    job.deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(seconds));
    jobs_.emplace(pid, std::move(job));
    return pid;
}

void ExecManager::read_stream(Job& job, Stream& stream) {
    std::array<char, 65536> buf{};
    while (stream.fd) {
        const ssize_t n = ::read(stream.fd.get(), buf.data(), buf.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            return;
        }
        if (n <= 0) {
            stream.fd.reset();  // EOF or error
            return;
        }
        const auto room = job.limit - std::min(job.limit, stream.data.size());
        const auto take = std::min(room, static_cast<std::size_t>(n));
        stream.data.append(buf.data(), take);
        if (take < static_cast<std::size_t>(n)) {
            stream.truncated = true;
        }
    }
}

void ExecManager::reap(Job& job) {
    int status = 0;
    pid_t r = 0;
    do {
        r = ::waitpid(job.pid, &status, WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r != job.pid) {
        return;
    }
    // Everything the process wrote before it exited is in the pipes now;
    // what its leftover children write later is not collected.
    read_stream(job, job.out);
    read_stream(job, job.err);
    job.out.fd.reset();
    job.err.fd.reset();
    job.pidfd.reset();
    job.exited = true;
    job.wait_status = status;
    finished_.push_back(job.pid);
    forget_old_finished();
}

void ExecManager::forget_old_finished() {
    while (finished_.size() > kMaxFinishedExecs) {
        jobs_.erase(finished_.front());
        finished_.pop_front();
    }
}

void ExecManager::add_pollfds(std::vector<pollfd>& fds) const {
    for (const auto& [pid, job] : jobs_) {
        for (const int fd : {job.pidfd.get(), job.out.fd.get(), job.err.fd.get()}) {
            if (fd >= 0) {
                fds.push_back({fd, POLLIN, 0});
            }
        }
    }
}

void ExecManager::on_ready(int fd) {
    for (auto& [pid, job] : jobs_) {
        if (job.out.fd.get() == fd) {
            read_stream(job, job.out);
            return;
        }
        if (job.err.fd.get() == fd) {
            read_stream(job, job.err);
            return;
        }
        if (job.pidfd.get() == fd) {
            reap(job);
            return;
        }
    }
}

void ExecManager::check_deadlines(Clock::time_point now) {
    for (auto& [pid, job] : jobs_) {
        if (!job.exited && !job.timed_out && now >= job.deadline) {
            job.timed_out = true;
            ::kill(-pid, SIGKILL);  // its process group (it called setsid)
            ::kill(pid, SIGKILL);   // in case it left the group
        }
    }
}

int ExecManager::poll_timeout_ms(Clock::time_point now) const {
    std::optional<Clock::time_point> next;
    for (const auto& [pid, job] : jobs_) {
        if (!job.exited && !job.timed_out && (!next || job.deadline < *next)) {
            next = job.deadline;
        }
    }
    if (!next) {
        return -1;
    }
    if (*next <= now) {
        return 0;
    }
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(*next - now).count();
    return static_cast<int>(std::min<long long>(ms, 1000LL * 3600));
}

std::size_t ExecManager::running() const {
    return static_cast<std::size_t>(
        std::count_if(jobs_.begin(), jobs_.end(), [](const auto& j) { return !j.second.exited; }));
}

json ExecManager::status(pid_t pid) {
    const auto it = jobs_.find(pid);
    if (it == jobs_.end()) {
        throw CommandError(cat("guest-exec-status: no command with pid ", pid,
                               " (never started, or its exit was reported already)"));
    }
    Job& job = it->second;
    if (!job.exited) {
        reap(job);  // the pidfd may not have been polled yet
    }
    if (!job.exited) {
        return json{{"exited", false}};
    }
    json out{{"exited", true}};
    if (WIFEXITED(job.wait_status)) {
        out["exitcode"] = WEXITSTATUS(job.wait_status);
    } else if (WIFSIGNALED(job.wait_status)) {
        out["signal"] = WTERMSIG(job.wait_status);
    }
    out["timed-out"] = job.timed_out;
    out["out-data"] = base64_encode(job.out.data);
    out["err-data"] = base64_encode(job.err.data);
    out["out-truncated"] = job.out.truncated;
    out["err-truncated"] = job.err.truncated;
    jobs_.erase(it);
    std::erase(finished_, pid);
    return out;
}

}  // namespace mvmm::agent
