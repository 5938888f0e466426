// The host client against a real agent behind a UNIX socket, as the VMM
// exposes the guest's COM2: handshake, commands, exec, errors, timeouts,
// a restarted agent and a peer that never answers.
#include <atomic>
#include <cstring>
#include <thread>

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <mvmm/agent/agent_client.hpp>
#include <mvmm/common/unique_fd.hpp>

#include "agent.hpp"
#include "support/temp_dir.hpp"

namespace mvmm::agent {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// Listens where the engine would, and serves each connection with a fresh
// agent (or, with `mute`, reads and never answers).
class FakeVmm {
  public:
    explicit FakeVmm(std::filesystem::path path, bool mute = false) : path_(std::move(path)) {
        listener_ = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
        EXPECT_EQ(::bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
        EXPECT_EQ(::listen(listener_.get(), 4), 0);
        thread_ = std::thread([this, mute] {
            for (;;) {
                UniqueFd conn(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
                if (!conn || stop_) {
                    return;
                }
                conn_fd_ = conn.get();
                if (mute) {
                    char buf[4096];
                    while (::read(conn.get(), buf, sizeof buf) > 0) {
                    }
                } else {
                    AgentOptions options;
                    options.shutdown = [this](const std::string& mode) { last_shutdown_ = mode; };
                    Agent agent(options);
                    agent.run(conn.get(), conn.get());
                }
                conn_fd_ = -1;
                ++served_;
            }
        });
    }
    ~FakeVmm() {
        stop_ = true;
        ::shutdown(listener_.get(), SHUT_RDWR);
        drop_connection();
        thread_.join();
    }
    // Ends the current connection, as when the agent's side goes away.
    void drop_connection() {
        const int fd = conn_fd_;
        if (fd >= 0) {
            ::shutdown(fd, SHUT_RDWR);
        }
    }
    int served() const { return served_; }
    std::string last_shutdown() const { return last_shutdown_; }

  private:
    std::filesystem::path path_;
    UniqueFd listener_;
    std::thread thread_;
    std::atomic<bool> stop_{false};
    std::atomic<int> conn_fd_{-1};
    std::atomic<int> served_{0};
    std::string last_shutdown_;
};

TEST(AgentClient, HandshakeThenCommands) {
    test::TempDir dir;
    FakeVmm vmm(dir.path() / "agent.sock");
    AgentClient client(dir.path() / "agent.sock");
    client.wait_ready(10s);
    EXPECT_TRUE(client.connected());
    EXPECT_EQ(client.execute("guest-ping"), json::object());
    const auto info = client.execute("guest-info");
    EXPECT_EQ(info["version"], kAgentVersion);
    const auto meminfo = client.execute("guest-meminfo");
    EXPECT_GT(meminfo["MemTotal"].get<std::uint64_t>(), 0u);
    const auto procs = client.execute("guest-processes");
    EXPECT_GT(procs["processes"].size(), 1u);
    EXPECT_EQ(client.read_file("/proc/self/comm").empty(), false);
}

TEST(AgentClient, ExecRoundTrip) {
    test::TempDir dir;
    FakeVmm vmm(dir.path() / "agent.sock");
    AgentClient client(dir.path() / "agent.sock");
    client.wait_ready(10s);
    const auto r = client.exec({.path = "/bin/sh",
                                .args = {"-c", "cat; echo to-stderr >&2; exit 4"},
                                .input = std::string("binary\0\xff", 8)});
    EXPECT_GT(r.pid, 0);
    EXPECT_EQ(r.exit_code, 4);
    EXPECT_FALSE(r.success());
    EXPECT_EQ(r.out, std::string("binary\0\xff", 8));
    EXPECT_EQ(r.err, "to-stderr\n");
    EXPECT_EQ(r.describe(), "exit code 4");

    const auto hung = client.exec({.path = "/bin/sleep", .args = {"100"}, .timeout = 0.2});
    EXPECT_TRUE(hung.timed_out);
    EXPECT_EQ(hung.signal, 9);
    EXPECT_EQ(hung.describe(), "signal 9 (killed at its time limit)");
}

TEST(AgentClient, ErrorRepliesBecomeAgentErrorsWithTheirClass) {
    test::TempDir dir;
    FakeVmm vmm(dir.path() / "agent.sock");
    AgentClient client(dir.path() / "agent.sock");
    client.wait_ready(10s);
    try {
        client.execute("guest-nonsense");
        FAIL() << "no error";
    } catch (const AgentError& e) {
        EXPECT_EQ(e.error_class(), "CommandNotFound");
        EXPECT_STREQ(e.what(),
                     "guest agent: guest-nonsense failed: unknown command 'guest-nonsense' "
                     "(CommandNotFound)");
    }
    EXPECT_THROW(client.exec({.path = "/no/such/program"}), AgentError);
    // The connection stays usable.
    EXPECT_EQ(client.execute("guest-ping"), json::object());
}

TEST(AgentClient, ReconnectsAfterTheConnectionDrops) {
    test::TempDir dir;
    FakeVmm vmm(dir.path() / "agent.sock");
    AgentClient client(dir.path() / "agent.sock");
    client.wait_ready(10s);
    vmm.drop_connection();
    // The first call notices the loss; the client then reconnects by itself.
    bool failed_once = false;
    for (int i = 0; i < 3; ++i) {
        try {
            EXPECT_EQ(client.execute("guest-ping", json::object(), 5s), json::object());
            break;
        } catch (const Error& e) {
            failed_once = true;
            EXPECT_NE(std::string(e.what()).find("guest agent"), std::string::npos) << e.what();
        }
    }
    EXPECT_TRUE(failed_once);
    EXPECT_EQ(client.execute("guest-ping"), json::object());
    EXPECT_GE(vmm.served(), 1);
}

TEST(AgentClient, SilentPeerTimesOutWithAClearMessage) {
    test::TempDir dir;
    FakeVmm vmm(dir.path() / "agent.sock", /*mute=*/true);
    AgentClient client(dir.path() / "agent.sock");
    try {
        client.wait_ready(1500ms);
        FAIL() << "no error";
    } catch (const Error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("not ready after 1.5 s"), std::string::npos) << what;
    }
}

TEST(AgentClient, MissingSocketIsReportedByName) {
    test::TempDir dir;
    AgentClient client(dir.path() / "nothing.sock");
    try {
        client.wait_ready(300ms);
        FAIL() << "no error";
    } catch (const Error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("nothing.sock"), std::string::npos) << what;
        EXPECT_NE(what.find("No such file or directory"), std::string::npos) << what;
    }
}

TEST(AgentClient, ShutdownIsCarriedOutAfterTheReply) {
    test::TempDir dir;
    FakeVmm vmm(dir.path() / "agent.sock");
    AgentClient client(dir.path() / "agent.sock");
    client.wait_ready(10s);
    client.shutdown("halt");
    EXPECT_FALSE(client.connected());
    for (int i = 0; i < 100 && vmm.last_shutdown().empty(); ++i) {
        std::this_thread::sleep_for(10ms);
    }
    EXPECT_EQ(vmm.last_shutdown(), "halt");
}

TEST(AgentClient, CommandsFromManyThreadsAreSerialized) {
    test::TempDir dir;
    FakeVmm vmm(dir.path() / "agent.sock");
    AgentClient client(dir.path() / "agent.sock");
    client.wait_ready(10s);
    std::atomic<int> ok{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 20; ++i) {
                const auto r = client.execute("guest-sync", json{{"id", t * 1000 + i}});
                if (r == t * 1000 + i) {
                    ++ok;
                }
            }
        });
    }
    for (auto& th : threads) {
        th.join();
    }
    EXPECT_EQ(ok, 80);
}

}  // namespace
}  // namespace mvmm::agent
