#include <string>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mvmm/common/error.hpp>
#include <mvmm/common/unique_fd.hpp>
#include <mvmm/qemu/child_process.hpp>

namespace mvmm {
namespace {

std::string read_all(int fd) {
    std::string out;
    char buffer[256];
    ssize_t n = 0;
    while ((n = ::read(fd, buffer, sizeof buffer)) > 0) {
        out.append(buffer, static_cast<std::size_t>(n));
    }
    return out;
}

TEST(ChildProcess, RunsWithStderrAndInheritedDescriptor) {
    int err_pipe[2];
    int data_pipe[2];
    ASSERT_EQ(::pipe2(err_pipe, O_CLOEXEC), 0);
    ASSERT_EQ(::pipe2(data_pipe, O_CLOEXEC), 0);
    UniqueFd err_read(err_pipe[0]);
    UniqueFd err_write(err_pipe[1]);
    UniqueFd data_read(data_pipe[0]);
    UniqueFd data_write(data_pipe[1]);
    const std::string script =
        "echo to-stderr >&2; echo to-fd >&" + std::to_string(data_write.get()) + "; exit 3";
    ChildProcess child({.argv = {"sh", "-c", script},
                        .inherit_fds = {data_write.get()},
                        .stderr_fd = err_write.get()});
    err_write.reset();
    data_write.reset();
    EXPECT_GT(child.pid(), 0);
    const int status = child.wait();
    EXPECT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 3);
    EXPECT_EQ(describe_wait_status(status), "exited with status 3");
    EXPECT_EQ(read_all(err_read.get()), "to-stderr\n");
    EXPECT_EQ(read_all(data_read.get()), "to-fd\n");
}

TEST(ChildProcess, OtherDescriptorsAreNotInherited) {
    int pipe_fds[2];
    ASSERT_EQ(::pipe(pipe_fds), 0);  // deliberately without O_CLOEXEC
    UniqueFd r(pipe_fds[0]);
    UniqueFd w(pipe_fds[1]);
    const std::string script =
        "[ -e /proc/self/fd/" + std::to_string(w.get()) + " ] && exit 1; exit 0";
    ChildProcess child({.argv = {"sh", "-c", script}, .inherit_fds = {}, .stderr_fd = -1});
    const int status = child.wait();
    EXPECT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "the child saw a descriptor it was not given";
}

TEST(ChildProcess, ExitFdSignalAndKill) {
    ChildProcess child({.argv = {"sleep", "60"}, .inherit_fds = {}, .stderr_fd = -1});
    EXPECT_FALSE(child.try_wait().has_value());
    pollfd pfd{child.exit_fd(), POLLIN, 0};
    EXPECT_EQ(::poll(&pfd, 1, 0), 0);
    // Its own process group: a Ctrl-C to ours does not reach it.
    EXPECT_EQ(::getpgid(child.pid()), child.pid());
    child.signal(SIGKILL);
    EXPECT_EQ(::poll(&pfd, 1, 10000), 1);
    const int status = child.wait();
    EXPECT_TRUE(WIFSIGNALED(status));
    EXPECT_EQ(describe_wait_status(status), "was killed by signal 9 (Killed)");
    child.signal(SIGKILL);  // after reaping: a no-op
}

TEST(ChildProcess, ReportsTheCpuTimeOfTheChildAndItsChildren) {
    // The work happens in a grandchild, which the shell reaps.
    ChildProcess child(
        {.argv = {"sh", "-c", "sh -c 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done'"},
         .inherit_fds = {},
         .stderr_fd = -1});
    EXPECT_EQ(child.cpu_seconds(), 0.0);
    child.wait();
    EXPECT_GT(child.cpu_seconds(), 0.0);
}

TEST(ChildProcess, DestructorKillsAndReaps) {
    pid_t pid = 0;
    {
        ChildProcess child({.argv = {"sleep", "60"}, .inherit_fds = {}, .stderr_fd = -1});
        pid = child.pid();
    }
    EXPECT_EQ(::kill(pid, 0), -1);
    EXPECT_EQ(errno, ESRCH);
}

TEST(ChildProcess, MissingProgramIsAClearError) {
    try {
        ChildProcess child({.argv = {"no-such-program-mvmm"}, .inherit_fds = {}, .stderr_fd = -1});
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("'no-such-program-mvmm': not found in PATH"),
                  std::string::npos)
            << e.what();
    }
    EXPECT_THROW(ChildProcess({.argv = {"/etc/passwd"}, .inherit_fds = {}, .stderr_fd = -1}),
                 Error);
    EXPECT_THROW(ChildProcess({.argv = {"sh"}, .inherit_fds = {1}, .stderr_fd = -1}), Error);
    EXPECT_THROW(ChildProcess({.argv = {}, .inherit_fds = {}, .stderr_fd = -1}), Error);
}

TEST(ChildProcess, FindProgram) {
    EXPECT_EQ(find_program("sh").filename(), "sh");
    EXPECT_TRUE(find_program("sh").is_absolute());
    EXPECT_THROW((void)find_program(""), Error);
}

}  // namespace
}  // namespace mvmm
