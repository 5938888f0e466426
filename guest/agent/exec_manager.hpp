// guest-exec's processes: started with pipes for stdout and stderr, watched
// through pidfds, killed (the whole process group) at their time limit, and
// kept until guest-exec-status has reported their exit.
//
// The agent's loop polls fds() and calls on_ready() and check_deadlines();
// nothing here blocks except starting a process (until it has exec'd).
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include <poll.h>
#include <sys/types.h>

#include <mvmm/agent/protocol.hpp>
#include <mvmm/common/unique_fd.hpp>

namespace mvmm::agent {

struct ExecSpec {
    std::string path{};                    // looked up in PATH when it has no '/'
    std::vector<std::string> args{};       // argv[1..]; argv[0] is path
    std::vector<std::string> env{};        // "NAME=VALUE", added to the agent's environment
    std::optional<std::string> input{};    // stdin; /dev/null when absent
    bool capture = true;                   // false: stdout and stderr go to /dev/null
    double timeout = kDefaultExecTimeout;  // seconds; the process group is killed after it
    std::size_t output_limit = kDefaultOutputLimit;  // bytes kept per stream
};

class ExecManager {
  public:
    using Clock = std::chrono::steady_clock;

    ExecManager() = default;
    ExecManager(const ExecManager&) = delete;
    ExecManager& operator=(const ExecManager&) = delete;
    ~ExecManager();  // kills and reaps whatever still runs

    // Starts a process; returns its pid. Throws CommandError if it cannot run.
    pid_t start(const ExecSpec& spec);

    // {"exited": false} while it runs; once it has exited, its exit code or
    // signal and output, after which the pid is forgotten. Throws
    // CommandError for a pid that is not ours.
    nlohmann::json status(pid_t pid);

    // The fds to poll (pipes and pidfds), all POLLIN.
    void add_pollfds(std::vector<pollfd>& fds) const;
    void on_ready(int fd);
    // Kills every process past its deadline.
    void check_deadlines(Clock::time_point now);
    // Milliseconds until the next deadline (-1: none), for poll().
    [[nodiscard]] int poll_timeout_ms(Clock::time_point now) const;

    [[nodiscard]] std::size_t running() const;

  private:
    struct Stream {
        UniqueFd fd;
        std::string data;
        bool truncated = false;
    };
    struct Job {
        pid_t pid = -1;
        UniqueFd pidfd;
        Stream out, err;
        std::size_t limit = 0;
        Clock::time_point deadline;
        bool exited = false;
        bool timed_out = false;
        int wait_status = 0;
    };
    void read_stream(Job& job, Stream& stream);
    void reap(Job& job);
    void forget_old_finished();

    std::map<pid_t, Job> jobs_;
    std::deque<pid_t> finished_;  // oldest first
};

}  // namespace mvmm::agent
