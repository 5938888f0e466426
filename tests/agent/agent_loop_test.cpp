// The agent's poll loop on a socket pair: the ready event, exec while
// serving other requests, and end of input.
#include <thread>

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mvmm/agent/json_stream.hpp>
#include <mvmm/common/unique_fd.hpp>

#include "agent.hpp"

namespace mvmm::agent {
namespace {

using nlohmann::json;

class Peer {
  public:
    explicit Peer(int fd) : fd_(fd) {}
    void send(const std::string& text) const {
        ASSERT_EQ(::write(fd_, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    }
    // The next item (message or delimiter) from the agent.
    JsonStreamSplitter::Item next() {
        while (items_.empty()) {
            char buf[4096];
            const ssize_t n = ::read(fd_, buf, sizeof buf);
            if (n <= 0) {
                ADD_FAILURE() << "agent closed the connection";
                return {};
            }
            std::vector<JsonStreamSplitter::Item> got;
            splitter_.feed(std::string_view(buf, static_cast<std::size_t>(n)), got);
            items_.insert(items_.end(), got.begin(), got.end());
        }
        auto item = items_.front();
        items_.erase(items_.begin());
        return item;
    }
    json next_json() {
        auto item = next();
        while (item.kind != JsonStreamSplitter::Item::Kind::message) {
            item = next();
        }
        return json::parse(item.text);
    }

  private:
    int fd_;
    JsonStreamSplitter splitter_{1 << 24};
    std::vector<JsonStreamSplitter::Item> items_;
};

TEST(AgentLoop, ServesRequestsWhileACommandRunsAndStopsAtEndOfInput) {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    UniqueFd host(sv[0]);
    UniqueFd guest(sv[1]);
    std::thread agent_thread([fd = guest.get()] {
        Agent agent{AgentOptions{}};
        agent.run(fd, fd);
    });
    Peer peer(host.get());

    EXPECT_EQ(peer.next().kind, JsonStreamSplitter::Item::Kind::delimiter);
    const auto ready = peer.next_json();
    EXPECT_EQ(ready["event"], "agent-ready");
    EXPECT_EQ(ready["data"]["version"], kAgentVersion);

    peer.send(
        R"({"execute":"guest-exec","arguments":{"path":"/bin/sh","arg":["-c","read x; echo got $x"],"input-data":"aGVsbG8K"},"id":1})");
    const auto started = peer.next_json();
    ASSERT_TRUE(started.contains("return")) << started.dump();
    const int pid = started["return"]["pid"];

    // A long-running command does not block other requests.
    peer.send(
        R"({"execute":"guest-exec","arguments":{"path":"/bin/sleep","arg":["1000"],"timeout":600},"id":2})");
    const int sleeper = peer.next_json()["return"]["pid"];
    peer.send(R"({"execute":"guest-ping","id":3})");
    EXPECT_EQ(peer.next_json()["id"], 3);

    json status;
    for (int i = 0; i < 1000; ++i) {
        peer.send(R"({"execute":"guest-exec-status","arguments":{"pid":)" + std::to_string(pid) +
                  "}}");
        status = peer.next_json()["return"];
        if (status["exited"] == true) {
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(status["exitcode"], 0);
    EXPECT_EQ(status["out-data"], "Z290IGhlbGxvCg==");  // "got hello\n"

    peer.send(R"({"execute":"guest-exec-status","arguments":{"pid":)" + std::to_string(sleeper) +
              "}}");
    EXPECT_EQ(peer.next_json()["return"]["exited"], false);

    host.reset();  // end of input: run() returns, and the sleeper is killed
    agent_thread.join();
    EXPECT_EQ(::kill(sleeper, 0), -1);
}

}  // namespace
}  // namespace mvmm::agent
