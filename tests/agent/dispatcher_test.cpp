// Requests through the agent's framing and dispatcher: good, malformed,
// oversized and interleaved input (Agent::feed, no fds involved).
#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include "agent.hpp"

namespace mvmm::agent {
namespace {

using nlohmann::json;

// The replies in `out`, one JSON value per line; delimiters kept as "\xff".
std::vector<json> replies(const std::string& out) {
    std::vector<json> list;
    std::size_t start = 0;
    while (start < out.size()) {
        auto end = out.find('\n', start);
        EXPECT_NE(end, std::string::npos) << "reply without newline";
        std::string line = out.substr(start, end - start);
        if (!line.empty() && line[0] == '\xff') {
            list.push_back("\xff");
            line.erase(0, 1);
        }
        list.push_back(json::parse(line));
        start = end + 1;
    }
    return list;
}

class DispatcherTest : public ::testing::Test {
  protected:
    DispatcherTest() : agent_(make_options()) {}
    AgentOptions make_options() {
        AgentOptions o;
        o.max_request = 4096;
        o.shutdown = [this](const std::string& mode) { shutdowns_.push_back(mode); };
        return o;
    }
    std::vector<std::string> shutdowns_;
    Agent agent_;
};

TEST_F(DispatcherTest, PingAndSyncEchoTheirId) {
    const auto r =
        replies(agent_.feed(R"({"execute":"guest-ping","id":"abc"})"
                            R"({"execute":"guest-sync","arguments":{"id":123456789012}})"));
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(r[0], json::parse(R"({"return":{},"id":"abc"})"));
    EXPECT_EQ(r[1], json::parse(R"({"return":123456789012})"));
}

TEST_F(DispatcherTest, SyncDelimitedPrecedesItsReplyWithTheDelimiter) {
    const auto out =
        agent_.feed("\xff{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":7}}");
    ASSERT_FALSE(out.empty());
    EXPECT_EQ(out[0], '\xff');
    EXPECT_EQ(json::parse(out.substr(1)), json::parse(R"({"return":7})"));
}

TEST_F(DispatcherTest, MalformedInputGetsErrorsAndServingGoesOn) {
    const auto r = replies(
        agent_.feed("{\"execute\": }\n"                                // invalid JSON
                    "[1,2]\n"                                          // not an object
                    "{\"execute\":\"guest-frob\",\"id\":1}\n"          // unknown command
                    "{\"execute\":42}\n"                               // execute not a string
                    "{\"execute\":\"guest-ping\",\"arguments\":[]}\n"  // arguments not an object
                    "{\"execute\":\"guest-ping\",\"extra\":1,\"id\":2}\n"     // unexpected member
                    "{\"execute\":\"guest-ping\",\"arguments\":{\"x\":1}}\n"  // unknown argument
                    "{\"execute\":\"guest-sync\",\"arguments\":{\"id\":\"s\"}}\n"
                    "not json at all\n"
                    "{\"execute\":\"guest-ping\",\"id\":3}\n"));
    ASSERT_EQ(r.size(), 13u);  // the last line gives four garbage runs
    const auto desc = [&](std::size_t i) { return r[i]["error"]["desc"].get<std::string>(); };
    EXPECT_EQ(desc(0).rfind("invalid JSON: ", 0), 0u) << desc(0);
    EXPECT_EQ(desc(1), "invalid request: expected a JSON object");
    EXPECT_EQ(r[2]["error"]["class"], "CommandNotFound");
    EXPECT_EQ(desc(2), "unknown command 'guest-frob'");
    EXPECT_EQ(r[2]["id"], 1);
    EXPECT_EQ(desc(3), "invalid request: 'execute' must name a command (a string)");
    EXPECT_EQ(desc(4), "invalid request: 'arguments' must be an object");
    EXPECT_EQ(desc(5),
              "invalid request: unexpected member 'extra' (known: execute, arguments, id)");
    EXPECT_EQ(r[5]["id"], 2);
    EXPECT_EQ(desc(6), "guest-ping: unknown argument 'x' (it takes none)");
    EXPECT_EQ(desc(7),
              "guest-sync: argument 'id' must be an integer from -9223372036854775808 to "
              "9223372036854775807");
    EXPECT_EQ(desc(8), "invalid input: expected a JSON object, got 'not'");
    EXPECT_EQ(r[8]["error"]["class"], "GenericError");
    EXPECT_EQ(desc(9), "invalid input: expected a JSON object, got 'json'");
    // ("at", "all" are two more garbage runs)
    EXPECT_EQ(r.back(), json::parse(R"({"return":{},"id":3})"));
}

TEST_F(DispatcherTest, OversizedRequestGetsOneErrorAndTheNextRequestWorks) {
    std::string huge = R"({"execute":"guest-exec","arguments":{"path":")";
    huge += std::string(1 << 20, 'x');
    huge += R"("}})";
    const auto r = replies(agent_.feed(huge + R"({"execute":"guest-ping","id":9})"));
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(r[0]["error"]["desc"],
              "message too large: more than 4096 bytes; skipping the rest of it");
    EXPECT_EQ(r[1], json::parse(R"({"return":{},"id":9})"));
}

TEST_F(DispatcherTest, InterleavedPiecesAndPartialMessagesAcrossFeeds) {
    std::string out;
    out += agent_.feed(R"({"execute":"guest-pi)");
    EXPECT_TRUE(out.empty());
    out += agent_.feed(R"(ng","id":1}{"exe)");
    out +=
        agent_.feed(R"(cute":"guest-sync","arguments":{"id":5}} {"execute":"guest-ping","id":2})");
    const auto r = replies(out);
    ASSERT_EQ(r.size(), 3u);
    EXPECT_EQ(r[0]["id"], 1);
    EXPECT_EQ(r[1]["return"], 5);
    EXPECT_EQ(r[2]["id"], 2);
}

TEST_F(DispatcherTest, DelimiterResynchronisesAfterAHalfMessage) {
    auto out = agent_.feed(R"({"execute":"guest-ping","arguments":{"nested":{)");
    EXPECT_TRUE(out.empty());
    out = agent_.feed("\xff{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":11}}");
    const auto r = replies(out);
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(r[0], "\xff");
    EXPECT_EQ(r[1]["return"], 11);
}

TEST_F(DispatcherTest, ShutdownRepliesFirstThenActs) {
    const auto r =
        replies(agent_.feed(R"({"execute":"guest-shutdown","arguments":{"mode":"reboot"}})"));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0]["return"], json::object());
    EXPECT_EQ(shutdowns_, std::vector<std::string>{"reboot"});
    const auto bad =
        replies(agent_.feed(R"({"execute":"guest-shutdown","arguments":{"mode":"off"}})"));
    EXPECT_EQ(bad[0]["error"]["desc"],
              "guest-shutdown: argument 'mode' must be 'powerdown', 'reboot' or 'halt'");
    EXPECT_EQ(shutdowns_.size(), 1u);
}

TEST_F(DispatcherTest, InfoListsEveryCommand) {
    const auto r = replies(agent_.feed(R"({"execute":"guest-info"})"));
    ASSERT_EQ(r.size(), 1u);
    const auto& info = r[0]["return"];
    EXPECT_EQ(info["version"], kAgentVersion);
    EXPECT_TRUE(info["kernel-release"].is_string());
    EXPECT_TRUE(info["uptime"].is_number());
    EXPECT_EQ(info["msharefs"]["mounted"].is_boolean(), true);
    const auto commands = info["commands"].get<std::vector<std::string>>();
    for (const char* c : {kSync, kSyncDelimited, kPing, kInfo, kExec, kExecStatus, kMeminfo,
                          kProcesses, kFileRead, kShutdown}) {
        EXPECT_NE(std::find(commands.begin(), commands.end(), c), commands.end()) << c;
    }
}

TEST_F(DispatcherTest, FileReadReadsSmallFilesAndRefusesOthers) {
    const auto r = replies(agent_.feed(
        R"({"execute":"guest-file-read","arguments":{"path":"/proc/self/stat","count":5}})"
        R"({"execute":"guest-file-read","arguments":{"path":"/dev/null"}})"
        R"({"execute":"guest-file-read","arguments":{"path":"/nonexistent/x"}})"
        R"({"execute":"guest-file-read","arguments":{"path":"/proc/version","count":2000000}})"));
    ASSERT_EQ(r.size(), 4u);
    EXPECT_EQ(r[0]["return"]["count"], 5);
    EXPECT_EQ(r[0]["return"]["eof"], false);
    EXPECT_EQ(r[1]["error"]["desc"], "guest-file-read: '/dev/null': not a regular file");
    EXPECT_EQ(r[2]["error"]["desc"],
              "guest-file-read: '/nonexistent/x': No such file or directory");
    EXPECT_EQ(r[3]["error"]["desc"],
              "guest-file-read: argument 'count' must be an integer from 0 to 1048576");
}

}  // namespace
}  // namespace mvmm::agent
