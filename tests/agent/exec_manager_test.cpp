// guest-exec's process handling on the host: real programs, pipes, time limits.
#include "exec_manager.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <mvmm/agent/base64.hpp>

#include "command_error.hpp"

namespace mvmm::agent {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// Runs the manager's part of the agent loop until `pid` has exited.
json wait_for(ExecManager& m, pid_t pid, std::chrono::seconds limit = 30s) {
    const auto end = ExecManager::Clock::now() + limit;
    while (ExecManager::Clock::now() < end) {
        std::vector<pollfd> fds;
        m.add_pollfds(fds);
        const int timeout = m.poll_timeout_ms(ExecManager::Clock::now());
        ::poll(fds.data(), fds.size(), timeout < 0 || timeout > 200 ? 200 : timeout);
        for (const auto& p : fds) {
            if (p.revents != 0) {
                m.on_ready(p.fd);
            }
        }
        m.check_deadlines(ExecManager::Clock::now());
        auto s = m.status(pid);
        if (s["exited"] == true) {
            return s;
        }
    }
    ADD_FAILURE() << "pid " << pid << " did not exit";
    return {};
}

std::string decoded(const json& s, const char* key) {
    return base64_decode(s[key].get<std::string>()).value_or("<not base64>");
}

TEST(ExecManager, CapturesStdoutStderrAndExitCode) {
    ExecManager m;
    const pid_t pid =
        m.start({.path = "/bin/sh", .args = {"-c", "echo out; echo err >&2; exit 3"}});
    EXPECT_GT(pid, 0);
    const auto s = wait_for(m, pid);
    EXPECT_EQ(s["exitcode"], 3);
    EXPECT_FALSE(s.contains("signal"));
    EXPECT_EQ(s["timed-out"], false);
    EXPECT_EQ(decoded(s, "out-data"), "out\n");
    EXPECT_EQ(decoded(s, "err-data"), "err\n");
    // Reported once, then forgotten.
    EXPECT_THROW(m.status(pid), CommandError);
}

TEST(ExecManager, SearchesPathAndPassesArgsEnvAndInput) {
    ExecManager m;
    const pid_t pid =
        m.start({.path = "sh",
                 .args = {"-c", "printf '%s|%s|' \"$1\" \"$MVMM_X\"; cat", "arg0", "a b"},
                 .env = {"MVMM_X=y=z"},
                 .input = std::string("in\0put", 6)});
    const auto s = wait_for(m, pid);
    EXPECT_EQ(s["exitcode"], 0);
    EXPECT_EQ(decoded(s, "out-data"), std::string("a b|y=z|in\0put", 14));
}

TEST(ExecManager, UnknownProgramIsAnErrorAtStart) {
    ExecManager m;
    try {
        m.start({.path = "/nonexistent/prog"});
        FAIL() << "no error";
    } catch (const CommandError& e) {
        EXPECT_STREQ(e.what(),
                     "guest-exec: cannot run '/nonexistent/prog': No such file or directory");
    }
    EXPECT_THROW(m.start({.path = ""}), CommandError);
    EXPECT_THROW(m.start({.path = "true", .env = {"NOEQUALS"}}), CommandError);
    EXPECT_EQ(m.running(), 0u);
}

TEST(ExecManager, HangingCommandIsKilledAtItsLimitWithItsChildren) {
    ExecManager m;
    // The shell's background child holds the pipe open too; killing the group ends both.
    const pid_t pid = m.start({.path = "/bin/sh",
                               .args = {"-c", "echo started; sleep 1000 & sleep 1000"},
                               .timeout = 0.3});
    const auto s = wait_for(m, pid);
    EXPECT_EQ(s["timed-out"], true);
    EXPECT_EQ(s["signal"], SIGKILL);
    EXPECT_FALSE(s.contains("exitcode"));
    EXPECT_EQ(decoded(s, "out-data"), "started\n");
}

TEST(ExecManager, KilledBySignalIsReported) {
    ExecManager m;
    const pid_t pid = m.start({.path = "/bin/sh", .args = {"-c", "kill -TERM $$"}});
    const auto s = wait_for(m, pid);
    EXPECT_EQ(s["signal"], SIGTERM);
    EXPECT_EQ(s["timed-out"], false);
}

TEST(ExecManager, OutputBeyondTheLimitIsDroppedAndFlagged) {
    ExecManager m;
    // 1 MiB of output, far more than the pipe holds, with a 1000-byte limit.
    const pid_t pid = m.start({.path = "/bin/sh",
                               .args = {"-c", "head -c 1048576 /dev/zero; echo done >&2"},
                               .output_limit = 1000});
    const auto s = wait_for(m, pid);
    EXPECT_EQ(s["exitcode"], 0);
    EXPECT_EQ(decoded(s, "out-data"), std::string(1000, '\0'));
    EXPECT_EQ(s["out-truncated"], true);
    EXPECT_EQ(decoded(s, "err-data"), "done\n");
    EXPECT_EQ(s["err-truncated"], false);
}

TEST(ExecManager, WithoutCaptureOutputIsDiscarded) {
    ExecManager m;
    const pid_t pid = m.start({.path = "/bin/echo", .args = {"hi"}, .capture = false});
    const auto s = wait_for(m, pid);
    EXPECT_EQ(s["exitcode"], 0);
    EXPECT_EQ(decoded(s, "out-data"), "");
}

TEST(ExecManager, ProgramsDoNotInheritIgnoredSigpipe) {
    ::signal(SIGPIPE, SIG_IGN);  // as the agent does
    ExecManager m;
    const pid_t pid = m.start({.path = "/bin/sh", .args = {"-c", "yes | head -c 1 >/dev/null"}});
    const auto s = wait_for(m, pid);
    EXPECT_EQ(s["exitcode"], 0);
    ::signal(SIGPIPE, SIG_DFL);
}

TEST(ExecManager, UnknownPidIsAnError) {
    ExecManager m;
    try {
        m.status(12345678);
        FAIL() << "no error";
    } catch (const CommandError& e) {
        EXPECT_STREQ(e.what(),
                     "guest-exec-status: no command with pid 12345678 (never started, "
                     "or its exit was reported already)");
    }
}

TEST(ExecManager, DestructorKillsWhatStillRuns) {
    pid_t pid = 0;
    {
        ExecManager m;
        pid = m.start({.path = "/bin/sleep", .args = {"1000"}});
        EXPECT_EQ(m.running(), 1u);
    }
    EXPECT_EQ(::kill(pid, 0), -1);  // reaped: no such process
    EXPECT_EQ(errno, ESRCH);
}

}  // namespace
}  // namespace mvmm::agent
