// QmpClient against a scripted QMP server on the other end of a socket pair.
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mvmm/common/error.hpp>
#include <mvmm/common/unique_fd.hpp>
#include <mvmm/qemu/qmp_client.hpp>

namespace mvmm {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class FakeServer {
  public:
    FakeServer() {
        int fds[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
            throw std::runtime_error("socketpair");
        }
        client_end = UniqueFd(fds[0]);
        server_ = UniqueFd(fds[1]);
    }
    void write(std::string_view text) const {
        ASSERT_EQ(::write(server_.get(), text.data(), text.size()),
                  static_cast<ssize_t>(text.size()));
    }
    // One line from the client (blocking).
    json read_message() {
        for (;;) {
            const auto nl = buffer_.find('\n');
            if (nl != std::string::npos) {
                auto line = buffer_.substr(0, nl);
                buffer_.erase(0, nl + 1);
                return json::parse(line);
            }
            char chunk[512];
            const ssize_t n = ::read(server_.get(), chunk, sizeof chunk);
            if (n <= 0) {
                return nullptr;
            }
            buffer_.append(chunk, static_cast<std::size_t>(n));
        }
    }
    void greet_and_accept_capabilities() {
        write(
            R"({"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""}, "capabilities": ["oob"]}})"
            "\r\n");
        const auto caps = read_message();
        ASSERT_EQ(caps["execute"], "qmp_capabilities");
        write(cat_reply(caps, R"("return": {})"));
    }
    static std::string cat_reply(const json& command, std::string_view body) {
        return "{" + std::string(body) + ", \"id\": " + command["id"].dump() + "}\r\n";
    }
    void close() { server_.reset(); }

    UniqueFd client_end;

  private:
    UniqueFd server_;
    std::string buffer_;
};

TEST(QmpClient, HandshakeCommandsErrorsAndEvents) {
    FakeServer server;
    std::mutex mutex;
    std::condition_variable cv;
    std::vector<json> events;
    std::atomic<bool> closed{false};

    std::jthread peer([&] {
        server.greet_and_accept_capabilities();
        // query-status: the reply comes in two pieces with an event in front.
        auto cmd = server.read_message();
        EXPECT_EQ(cmd["execute"], "query-status");
        server.write(
            R"({"event": "STOP", "data": {}, "timestamp": {"seconds": 1, "microseconds": 2}})"
            "\r\n");
        const auto reply =
            FakeServer::cat_reply(cmd, R"("return": {"running": false, "status": "paused"})");
        server.write(reply.substr(0, 10));
        std::this_thread::sleep_for(20ms);
        server.write(reply.substr(10));
        // An error reply.
        cmd = server.read_message();
        EXPECT_EQ(cmd["execute"], "nonsense");
        EXPECT_FALSE(cmd.contains("arguments"));
        server.write(FakeServer::cat_reply(
            cmd,
            R"("error": {"class": "CommandNotFound", "desc": "The command nonsense has not been found"})"));
        // human-monitor-command passes its argument through.
        cmd = server.read_message();
        EXPECT_EQ(cmd["arguments"]["command-line"], "info registers -a");
        server.write(FakeServer::cat_reply(cmd, R"("return": "CPU#0\r\nCR0=1\r\n")"));
        // A line that is not JSON is skipped; the connection stays usable.
        cmd = server.read_message();
        server.write("this is not json\r\n");
        server.write(FakeServer::cat_reply(cmd, R"("return": {})"));
        server.read_message();  // waits until the client closes
    });

    QmpClient client(
        std::move(server.client_end), "fake QEMU",
        [&](const json& event) {
            const std::lock_guard lock(mutex);
            events.push_back(event);
            cv.notify_all();
        },
        [&] { closed = true; }, 5s);
    EXPECT_EQ(client.greeting()["version"]["qemu"]["major"], 7);

    const auto status = client.execute("query-status");
    EXPECT_EQ(status["status"], "paused");
    {
        std::unique_lock lock(mutex);
        ASSERT_TRUE(cv.wait_for(lock, 5s, [&] { return !events.empty(); }));
        EXPECT_EQ(events[0]["event"], "STOP");
    }
    try {
        client.execute("nonsense");
        FAIL() << "no error";
    } catch (const Error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("'nonsense'"), std::string::npos) << what;
        EXPECT_NE(what.find("CommandNotFound"), std::string::npos) << what;
        EXPECT_NE(what.find("has not been found"), std::string::npos) << what;
    }
    EXPECT_EQ(client.human_monitor_command("info registers -a"), "CPU#0\r\nCR0=1\r\n");
    EXPECT_EQ(client.execute("query-version"), json::object());
    EXPECT_FALSE(client.closed());
}

TEST(QmpClient, PeerClosingFailsPendingAndLaterCommands) {
    FakeServer server;
    std::atomic<bool> closed{false};
    std::jthread peer([&] {
        server.greet_and_accept_capabilities();
        (void)server.read_message();  // a command that never gets its reply
        server.close();
    });
    QmpClient client(
        std::move(server.client_end), "fake QEMU", nullptr, [&] { closed = true; }, 5s);
    try {
        client.execute("stop", json::object(), 10s);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("closed"), std::string::npos) << e.what();
    }
    peer.join();
    for (int i = 0; i < 500 && !closed; ++i) {
        std::this_thread::sleep_for(10ms);
    }
    EXPECT_TRUE(closed);
    EXPECT_TRUE(client.closed());
    EXPECT_THROW(client.execute("cont"), Error);
}

TEST(QmpClient, NoGreetingIsAnError) {
    FakeServer server;
    try {
        QmpClient client(std::move(server.client_end), "silent peer", nullptr, nullptr, 200ms);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("silent peer"), std::string::npos) << e.what();
    }
    FakeServer closing;
    closing.close();
    EXPECT_THROW(QmpClient(std::move(closing.client_end), "gone", nullptr, nullptr, 5s), Error);
    FakeServer wrong;
    wrong.write("{\"hello\": 1}\n");
    EXPECT_THROW(QmpClient(std::move(wrong.client_end), "wrong", nullptr, nullptr, 5s), Error);
}

TEST(QmpClient, ReplyTimeoutNamesTheCommand) {
    FakeServer server;
    std::jthread peer([&] {
        server.greet_and_accept_capabilities();
        (void)server.read_message();
        (void)server.read_message();  // until the client goes
    });
    QmpClient client(std::move(server.client_end), "slow QEMU", nullptr, nullptr, 5s);
    try {
        client.execute("stop", json::object(), 100ms);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("'stop': no reply within 100 ms"), std::string::npos)
            << e.what();
    }
}

}  // namespace
}  // namespace mvmm
