// The control socket's guest agent part against a real agent core behind a
// UNIX socket, as an engine exposes the guest's COM2: DeviceNotActive until
// the agent answers, the ready report once, commands and exec afterwards,
// and the socket left free between requests.
#include <atomic>
#include <cstring>
#include <functional>
#include <thread>

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <mvmm/agent/agent_client.hpp>
#include <mvmm/common/error.hpp>
#include <mvmm/common/unique_fd.hpp>
#include <mvmm/guest_services/agent_service.hpp>
#include <mvmm/protocol/error_class.hpp>

#include "agent.hpp"
#include "support/temp_dir.hpp"

namespace mvmm::guest_services {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using protocol::CommandError;
using protocol::ErrorClass;
using Exec = control::AgentControl::ExecRequest;

Exec request(std::string path, std::vector<std::string> args = {}, double timeout = 0) {
    Exec r;
    r.path = std::move(path);
    r.args = std::move(args);
    r.timeout_seconds = timeout;
    return r;
}

// Listens at `path` and serves one connection at a time, as QEMU's socket
// chardev does, with one agent for all of them, as the guest has (the agent
// on the serial line does not see the host's connections come and go).
class AgentSocket {
  public:
    explicit AgentSocket(const std::filesystem::path& path) {
        // A client that gave up leaves a closed connection in the queue; the
        // agent's reply to it must not end the test (QEMU ignores SIGPIPE too).
        ::signal(SIGPIPE, SIG_IGN);
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
                try {
                    agent_.run(conn.get(), conn.get());
                } catch (const Error&) {
                    // The client hung up before its reply: serve the next one.
                }
                ++served_;
            }
        });
    }
    AgentSocket(const AgentSocket&) = delete;
    AgentSocket& operator=(const AgentSocket&) = delete;
    ~AgentSocket() {
        stop_ = true;
        ::shutdown(listener_.get(), SHUT_RDWR);
        thread_.join();
    }
    // Connections served to their end.
    [[nodiscard]] int served() const { return served_; }

  private:
    agent::Agent agent_{agent::AgentOptions{}};
    UniqueFd listener_;
    std::thread thread_;
    std::atomic<bool> stop_{false};
    std::atomic<int> served_{0};
};

ErrorClass error_class_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const CommandError& e) {
        return e.error_class();
    }
    ADD_FAILURE() << "no CommandError";
    return ErrorClass::generic_error;
}

bool wait_until(const std::function<bool()>& done) {
    for (int i = 0; i < 1000; ++i) {
        if (done()) {
            return true;
        }
        std::this_thread::sleep_for(20ms);
    }
    return false;
}

TEST(AgentService, DeviceNotActiveUntilTheAgentAnswers) {
    test::TempDir dir;
    const auto path = dir.path() / "agent.sock";
    std::atomic<int> ready_reports{0};
    AgentService service(path, [&](double seconds) {
        EXPECT_GT(seconds, 0.0);
        ++ready_reports;
    });
    EXPECT_EQ(error_class_of([&] { (void)service.meminfo(); }), ErrorClass::device_not_active);
    // Waiting while nothing listens yet (the engine has not made the socket).
    service.start_waiting();
    std::this_thread::sleep_for(300ms);
    EXPECT_FALSE(service.ready());
    EXPECT_EQ(error_class_of([&] { (void)service.exec(request("/bin/true")); }),
              ErrorClass::device_not_active);

    AgentSocket agent(path);
    ASSERT_TRUE(wait_until([&] { return service.ready(); }));
    EXPECT_EQ(ready_reports, 1);
    EXPECT_GT(service.meminfo()["MemTotal"].get<std::uint64_t>(), 0U);
    service.stop();
    EXPECT_EQ(error_class_of([&] { (void)service.meminfo(); }), ErrorClass::device_not_active);
    EXPECT_EQ(ready_reports, 1);
}

TEST(AgentService, ExecAndItsStatusInTheProtocolsShape) {
    test::TempDir dir;
    const auto path = dir.path() / "agent.sock";
    AgentSocket agent(path);
    AgentService service(path, {});
    service.start_waiting();
    ASSERT_TRUE(wait_until([&] { return service.ready(); }));

    auto with_env = request("/bin/sh", {"-c", "echo hello $WHO; echo oops >&2; exit 3"});
    with_env.env = {"WHO=guest"};
    const auto id = service.exec(with_env);
    EXPECT_GT(id, 0U);
    json status;
    ASSERT_TRUE(wait_until([&] {
        status = service.exec_status(id);
        return status["exited"].get<bool>();
    }));
    EXPECT_EQ(status, json({{"exited", true},
                            {"exit-code", 3},
                            {"stdout", "hello guest\n"},
                            {"stderr", "oops\n"},
                            {"timed-out", false}}));

    const auto killed = service.exec(request("/bin/sleep", {"100"}, 0.2));
    ASSERT_TRUE(wait_until([&] {
        status = service.exec_status(killed);
        return status["exited"].get<bool>();
    }));
    EXPECT_EQ(status["signal"], 9);
    EXPECT_EQ(status["timed-out"], true);
    EXPECT_FALSE(status.contains("exit-code"));

    // The agent's own errors are GenericError with its description.
    try {
        (void)service.exec(request("/no/such/program"));
        ADD_FAILURE() << "no error";
    } catch (const CommandError& e) {
        EXPECT_EQ(e.error_class(), ErrorClass::generic_error);
        EXPECT_NE(std::string(e.what()).find("/no/such/program"), std::string::npos) << e.what();
    }
}

TEST(AgentService, LeavesTheSocketFreeBetweenRequests) {
    test::TempDir dir;
    const auto path = dir.path() / "agent.sock";
    AgentSocket agent(path);
    AgentService service(path, {});
    service.start_waiting();
    ASSERT_TRUE(wait_until([&] { return service.ready(); }));
    (void)service.meminfo();

    // The socket serves one client at a time: another client gets through
    // only because the service hung up after its request.
    agent::AgentClient other(path);
    other.wait_ready(10s);
    EXPECT_EQ(other.execute("guest-ping"), json::object());
    other.disconnect();
    EXPECT_TRUE(wait_until([&] { return agent.served() >= 3; }));  // handshake, meminfo, other
    EXPECT_GT(service.meminfo()["MemTotal"].get<std::uint64_t>(), 0U);
}

TEST(AgentService, AnAgentHeldByAnotherClientAnswersDeviceNotActive) {
    test::TempDir dir;
    const auto path = dir.path() / "agent.sock";
    AgentSocket agent(path);
    AgentService service(path, {});
    service.start_waiting();
    ASSERT_TRUE(wait_until([&] { return service.ready(); }));

    agent::AgentClient other(path);
    other.wait_ready(10s);  // and keeps the connection
    try {
        (void)service.execute("guest-ping", json::object(), 500ms);
        ADD_FAILURE() << "no error";
    } catch (const CommandError& e) {
        EXPECT_EQ(e.error_class(), ErrorClass::device_not_active);
        EXPECT_NE(std::string(e.what()).find("one client at a time"), std::string::npos)
            << e.what();
    }
    other.disconnect();
    EXPECT_EQ(service.execute("guest-ping"), json::object());
}

}  // namespace
}  // namespace mvmm::guest_services
