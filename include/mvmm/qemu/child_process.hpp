// A child process the VMM starts and owns (QEMU). It ends with its owner:
// the destructor kills and reaps it, and the kernel kills it if the thread
// that started it ends (PR_SET_PDEATHSIG), e.g. when the VMM dies.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

#include <mvmm/common/unique_fd.hpp>

namespace mvmm {

struct ChildSpec {
    // argv[0] is the program: a path, or a name looked up in PATH.
    std::vector<std::string> argv;
    // File descriptors the child inherits with the same numbers (each >= 3).
    // Every other descriptor of the VMM is closed in the child.
    std::vector<int> inherit_fds;
    // The child's stderr, or -1 for /dev/null. stdin and stdout are /dev/null.
    int stderr_fd = -1;
};

class ChildProcess {
  public:
    // Starts the child in its own process group, with an empty signal mask and
    // default signal actions, so a Ctrl-C meant for the VMM does not reach it.
    // Throws Error naming the program if it is not found or cannot be executed.
    explicit ChildProcess(const ChildSpec& spec);
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;
    // Kills (SIGKILL) and reaps the child if it still runs.
    ~ChildProcess();

    [[nodiscard]] pid_t pid() const noexcept { return pid_; }
    // Becomes readable when the child has ended (a pidfd).
    [[nodiscard]] int exit_fd() const noexcept { return pidfd_.get(); }
    // Sends a signal unless the child has been reaped. Never throws.
    void signal(int sig) noexcept;
    // Reaps the child if it has ended; returns its wait status.
    std::optional<int> try_wait();
    // Blocks until the child ends; returns its wait status.
    int wait();
    [[nodiscard]] std::optional<int> status() const noexcept { return status_; }
    // User plus system CPU time of the child and the children it reaped, once reaped.
    [[nodiscard]] double cpu_seconds() const noexcept { return cpu_seconds_; }

  private:
    pid_t pid_ = -1;
    UniqueFd pidfd_;
    std::optional<int> status_;
    double cpu_seconds_ = 0;
};

// "exited with status 1", "was killed by signal 9 (Killed)".
std::string describe_wait_status(int status);

// The full path of `program` (as execvp would find it); throws Error if there is none.
std::filesystem::path find_program(const std::string& program);

}  // namespace mvmm
