// The control socket's guest agent part (AgentBackend) against a real agent
// core behind a UNIX socket, as the VMM exposes the guest's COM2: exec and
// its status in the documented shape, meminfo, DeviceNotActive while no
// agent answers, and a new connection after a lost one.
#include <atomic>
#include <cstring>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <mvmm/common/unique_fd.hpp>
#include <mvmm/control/agent_backend.hpp>
#include <mvmm/protocol/error_class.hpp>

#include "agent.hpp"
#include "support/temp_dir.hpp"

namespace mvmm::control {
namespace {

using nlohmann::json;
using protocol::CommandError;
using protocol::ErrorClass;
using ::testing::HasSubstr;

// Serves each connection on `path` with a fresh agent.
class AgentSocket {
  public:
    explicit AgentSocket(const std::filesystem::path& path) {
        listener_ = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
        EXPECT_EQ(::bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
        EXPECT_EQ(::listen(listener_.get(), 4), 0);
        thread_ = std::thread([this] {
            for (;;) {
                UniqueFd conn(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
                if (!conn || stop_) {
                    return;
                }
                conn_fd_ = conn.get();
                agent::AgentOptions options;
                options.shutdown = [](const std::string&) {};
                agent::Agent agent(options);
                agent.run(conn.get(), conn.get());
                conn_fd_ = -1;
                ++served_;
            }
        });
    }
    AgentSocket(const AgentSocket&) = delete;
    AgentSocket& operator=(const AgentSocket&) = delete;
    ~AgentSocket() {
        stop_ = true;
        ::shutdown(listener_.get(), SHUT_RDWR);
        drop_connection();
        thread_.join();
    }
    void drop_connection() {
        const int fd = conn_fd_;
        if (fd >= 0) {
            ::shutdown(fd, SHUT_RDWR);
        }
    }
    [[nodiscard]] int served() const { return served_; }

  private:
    UniqueFd listener_;
    std::thread thread_;
    std::atomic<bool> stop_{false};
    std::atomic<int> conn_fd_{-1};
    std::atomic<int> served_{0};
};

json wait_exited(AgentBackend& backend, std::uint64_t id) {
    for (int i = 0; i < 1000; ++i) {
        auto status = backend.exec_status(id);
        if (status["exited"] == true) {
            return status;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "exec " << id << " did not exit";
    return {};
}

TEST(AgentBackend, WithoutAnAgentCommandsAreDeviceNotActive) {
    test::TempDir dir;
    AgentBackend backend(dir.path() / "agent.sock");
    try {
        (void)backend.meminfo();
        FAIL() << "meminfo without an agent";
    } catch (const CommandError& e) {
        EXPECT_EQ(e.error_class(), ErrorClass::device_not_active);
        EXPECT_THAT(e.what(), HasSubstr("the guest agent is not connected"));
    }
    AgentControl::ExecRequest r;
    r.path = "/bin/true";
    EXPECT_THROW((void)backend.exec(r), CommandError);
}

TEST(AgentBackend, ExecStatusAndMeminfoInTheDocumentedShape) {
    test::TempDir dir;
    const AgentSocket socket(dir.path() / "agent.sock");
    AgentBackend backend(dir.path() / "agent.sock");

    AgentControl::ExecRequest echo;
    echo.path = "/bin/sh";
    echo.args = {"-c", "echo \"hello $WHO\"; echo oops >&2; exit 3"};
    echo.env = {"WHO=guest"};
    const auto id = backend.exec(echo);
    EXPECT_GT(id, 0U);
    const auto done = wait_exited(backend, id);
    EXPECT_EQ(done["exit-code"], 3);
    EXPECT_EQ(done["stdout"], "hello guest\n");
    EXPECT_EQ(done["stderr"], "oops\n");
    EXPECT_EQ(done["timed-out"], false);
    EXPECT_FALSE(done.contains("signal"));

    AgentControl::ExecRequest killed;
    killed.path = "/bin/sh";
    killed.args = {"-c", "kill -9 $$"};
    const auto k = wait_exited(backend, backend.exec(killed));
    EXPECT_EQ(k["signal"], 9);
    EXPECT_FALSE(k.contains("exit-code"));

    AgentControl::ExecRequest slow;
    slow.path = "/bin/sleep";
    slow.args = {"30"};
    slow.timeout_seconds = 0.2;
    const auto t = wait_exited(backend, backend.exec(slow));
    EXPECT_EQ(t["timed-out"], true);

    const auto meminfo = backend.meminfo();
    EXPECT_GT(meminfo["MemTotal"].get<double>(), 0);
    EXPECT_TRUE(meminfo.contains("PageTables"));
    EXPECT_EQ(socket.served(), 0);  // one connection, still open
}

TEST(AgentBackend, UnknownExecIdIsAnErrorNotACrash) {
    test::TempDir dir;
    const AgentSocket socket(dir.path() / "agent.sock");
    AgentBackend backend(dir.path() / "agent.sock");
    EXPECT_THROW((void)backend.exec_status(0), CommandError);
    EXPECT_THROW((void)backend.exec_status(1ULL << 40), CommandError);
    // The agent does not know it; the connection stays usable.
    EXPECT_THROW((void)backend.exec_status(999999), CommandError);
    EXPECT_TRUE(backend.meminfo().contains("MemTotal"));
}

TEST(AgentBackend, ALostConnectionIsMadeAgainOnTheNextCommand) {
    test::TempDir dir;
    AgentSocket socket(dir.path() / "agent.sock");
    AgentBackend backend(dir.path() / "agent.sock");
    EXPECT_TRUE(backend.meminfo().contains("MemTotal"));
    socket.drop_connection();
    // The first command after the drop may fail with DeviceNotActive; one
    // of the next must reach a new agent.
    bool reached = false;
    for (int i = 0; i < 5 && !reached; ++i) {
        try {
            reached = backend.meminfo().contains("MemTotal");
        } catch (const CommandError& e) {
            EXPECT_EQ(e.error_class(), ErrorClass::device_not_active) << e.what();
        }
    }
    EXPECT_TRUE(reached);
    EXPECT_GE(socket.served(), 1);
}

}  // namespace
}  // namespace mvmm::control
