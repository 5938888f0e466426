// The control server over a real UNIX socket with a fake backend:
// negotiation, commands, errors, events, and clients that misbehave.
#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <mvmm/common/error.hpp>
#include <mvmm/common/log.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/control/client.hpp>
#include <mvmm/control/events.hpp>
#include <mvmm/control/server.hpp>
#include <mvmm/control/socket_file.hpp>

#include "control/support/fake_backend.hpp"
#include "control/support/raw_socket.hpp"
#include "support/temp_dir.hpp"

namespace mvmm::control {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using protocol::CommandError;
using protocol::ErrorClass;
using test::FakeBackend;
using test::RawSocket;

class ServerTest : public ::testing::Test {
  protected:
    void SetUp() override { log::set_level(log::Level::error); }

    void start(ServerOptions options = {}) {
        options.socket_path = socket;
        server = std::make_unique<ControlServer>(options, backend.backend());
        backend.set_event_sink([this](const EngineEvent& e) { server->publish(e); });
    }
    void TearDown() override {
        backend.set_event_sink({});
        if (server) {
            server->stop();
        }
    }
    QmpClient client(bool negotiate = true) {
        return QmpClient(socket, QmpClient::Options{10s, negotiate});
    }
    // The server counts a client as gone a moment after it hangs up.
    bool wait_for_clients(std::size_t n) {
        for (int i = 0; i < 2000 && server->client_count() != n; ++i) {
            std::this_thread::sleep_for(5ms);
        }
        return server->client_count() == n;
    }

    mvmm::test::TempDir dir;
    std::filesystem::path socket = dir.path() / "control.sock";
    FakeBackend backend;
    std::unique_ptr<ControlServer> server;
};

ErrorClass error_class_of(const std::function<void()>& f, std::string* desc = nullptr) {
    try {
        f();
    } catch (const CommandError& e) {
        if (desc != nullptr) {
            *desc = e.what();
        }
        return e.error_class();
    }
    ADD_FAILURE() << "no error reply";
    return ErrorClass::generic_error;
}

TEST_F(ServerTest, GreetingAndNegotiation) {
    start();
    auto c = client(false);
    const auto& greeting = c.greeting();
    ASSERT_TRUE(greeting.contains("QMP"));
    EXPECT_TRUE(greeting["QMP"]["version"]["qemu"]["major"].is_number_integer());
    EXPECT_TRUE(greeting["QMP"]["version"]["package"].is_string());
    EXPECT_EQ(greeting["QMP"]["capabilities"], json::array());

    std::string desc;
    EXPECT_EQ(error_class_of([&] { c.execute("query-status"); }, &desc),
              ErrorClass::command_not_found);
    EXPECT_NE(desc.find("qmp_capabilities"), std::string::npos) << desc;
    // No events before negotiation.
    server->publish("MSHARE_TEST", json{{"n", 1}});
    EXPECT_FALSE(c.next_event(200ms));

    EXPECT_EQ(error_class_of([&] {
                  c.execute("qmp_capabilities", {{"enable", {"oob"}}});
              }),
              ErrorClass::generic_error);
    EXPECT_EQ(c.execute("qmp_capabilities"), json::object());
    EXPECT_EQ(error_class_of([&] { c.execute("qmp_capabilities"); }),
              ErrorClass::command_not_found);
    EXPECT_EQ(c.execute("query-status")["status"], "running");
    server->publish("MSHARE_TEST", json{{"n", 2}});
    auto event = c.next_event(10s);
    ASSERT_TRUE(event);
    EXPECT_EQ((*event)["event"], "MSHARE_TEST");
    EXPECT_EQ((*event)["data"]["n"], 2);
    EXPECT_TRUE((*event)["timestamp"]["seconds"].is_number_integer());
    EXPECT_TRUE((*event)["timestamp"]["microseconds"].is_number_integer());
}

TEST_F(ServerTest, StandardCommandsHaveQemuShapes) {
    start();
    auto c = client();
    auto status = c.execute("query-status");
    EXPECT_EQ(status["running"], true);
    EXPECT_EQ(status["status"], "running");
    EXPECT_EQ(status["mshare-engine"], "kvm");

    EXPECT_EQ(c.execute("stop"), json::object());
    auto event = c.next_event(10s);
    ASSERT_TRUE(event);
    EXPECT_EQ((*event)["event"], "STOP");
    EXPECT_FALSE(event->contains("data"));
    status = c.execute("query-status");
    EXPECT_EQ(status["running"], false);
    EXPECT_EQ(status["status"], "paused");
    EXPECT_EQ(c.execute("stop"), json::object()) << "stop when paused is a no-op";
    EXPECT_EQ(backend.pause_calls(), 1);

    EXPECT_EQ(c.execute("cont"), json::object());
    event = c.next_event(10s);
    ASSERT_TRUE(event);
    EXPECT_EQ((*event)["event"], "RESUME");
    EXPECT_EQ(c.execute("query-status")["status"], "running");

    auto version = c.execute("query-version");
    EXPECT_EQ(version["qemu"], c.greeting()["QMP"]["version"]["qemu"]);

    std::vector<std::string> names;
    for (const auto& entry : c.execute("query-commands")) {
        names.push_back(entry["name"]);
    }
    for (const char* expected :
         {"qmp_capabilities", "query-commands", "query-status", "query-version", "stop", "cont",
          "quit", "mshare-query-engine", "mshare-query-console", "mshare-query-processes",
          "mshare-query-page-tables", "mshare-query-regions", "mshare-query-accounting",
          "mshare-query-kvm-stats", "mshare-dirty-log-mark", "mshare-dirty-log-collect",
          "mshare-guest-exec", "mshare-guest-exec-status", "mshare-query-guest-meminfo"}) {
        EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
    }
    EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
}

TEST_F(ServerTest, ContAfterTheGuestEndedIsAnError) {
    start();
    auto c = client();
    backend.set_state(RunState::guest_panicked);
    std::string desc;
    EXPECT_EQ(error_class_of([&] { c.execute("cont"); }, &desc), ErrorClass::generic_error);
    EXPECT_NE(desc.find("guest-panicked"), std::string::npos) << desc;
}

TEST_F(ServerTest, QuitRepliesThenShutdownEventThenTheServerFlushes) {
    start();
    auto c = client();
    EXPECT_EQ(c.execute("quit"), json::object());
    auto event = c.next_event(10s);
    ASSERT_TRUE(event);
    EXPECT_EQ((*event)["event"], "SHUTDOWN");
    EXPECT_EQ((*event)["data"], (json{{"guest", false}, {"reason", "host-qmp-quit"}}));
    EXPECT_EQ(backend.quit_calls(), 1);
    server->stop();
    EXPECT_FALSE(std::filesystem::exists(socket));
    EXPECT_THROW(c.read_message(10s), Error) << "the server closed the connection";
}

TEST_F(ServerTest, ErrorsKeepTheConnectionUsableAndEchoIds) {
    start();
    auto c = client();
    auto reply = c.request({{"execute", "no-such-command"}});
    EXPECT_EQ(reply["error"]["class"], "CommandNotFound");
    EXPECT_EQ(reply["error"]["desc"], "command 'no-such-command' not found");
    EXPECT_TRUE(reply.contains("id"));

    reply = c.request({{"execute", "mshare-query-page-tables"}, {"arguments", {{"pid", "x"}}}});
    EXPECT_EQ(reply["error"]["class"], "GenericError");
    EXPECT_EQ(reply["error"]["desc"],
              "mshare-query-page-tables: parameter 'pid' must be non-negative integer, not string");
    reply = c.request({{"execute", "mshare-query-page-tables"}});
    EXPECT_EQ(reply["error"]["desc"],
              "mshare-query-page-tables: parameter 'pid' is missing (non-negative integer)");
    reply = c.request({{"execute", "query-status"}, {"arguments", {{"verbose", true}}}});
    EXPECT_NE(reply["error"]["desc"].get<std::string>().find("'verbose'"), std::string::npos);
    EXPECT_EQ(error_class_of([&] {
                  c.execute("mshare-query-page-tables", {{"pid", 999}});
              }),
              ErrorClass::device_not_found);
    EXPECT_EQ(c.execute("mshare-query-page-tables", {{"pid", 60}})["comm"], "ptbench");

    // Any JSON value is a valid id and comes back unchanged.
    RawSocket raw(socket);
    raw.send(R"({"execute":"qmp_capabilities"})"
             R"({"execute":"query-status","id":{"a":[1,"two",null]}})"
             R"({"execute":"nope","id":7})"
             "\n");
    const auto text = raw.read_lines(4);
    const auto lines = split(text, '\n');
    ASSERT_GE(lines.size(), 4U) << text;
    EXPECT_EQ(json::parse(lines[2])["id"], json::parse(R"({"a":[1,"two",null]})"));
    EXPECT_EQ(json::parse(lines[3]), json::parse(R"({"error": {"class": "CommandNotFound",
                                                  "desc": "command 'nope' not found"}, "id": 7})"));
}

TEST_F(ServerTest, FramingSeveralObjectsPerReadAndOneObjectAcrossReads) {
    start();
    RawSocket raw(socket);
    // Three commands in one write, no separators.
    ASSERT_TRUE(raw.send(R"({"execute":"qmp_capabilities","id":1}{"execute":"query-status","id":2})"
                         R"({"execute":"query-version","id":3})"));
    auto text = raw.read_lines(4);
    auto lines = split(text, '\n');
    ASSERT_GE(lines.size(), 4U) << text;
    EXPECT_TRUE(json::parse(lines[0]).contains("QMP"));
    for (int i = 1; i <= 3; ++i) {
        const auto reply = json::parse(lines[static_cast<std::size_t>(i)]);
        EXPECT_EQ(reply["id"], i);
        EXPECT_TRUE(reply.contains("return")) << reply;
    }
    // One command dribbled a byte at a time.
    const std::string command = R"({"execute": "mshare-query-engine", "id": "slow"})";
    for (char ch : command) {
        ASSERT_TRUE(raw.send(std::string(1, ch)));
        std::this_thread::sleep_for(1ms);
    }
    text = raw.read_lines(5);
    lines = split(text, '\n');
    ASSERT_GE(lines.size(), 5U) << text;
    const auto reply = json::parse(lines[4]);
    EXPECT_EQ(reply["id"], "slow");
    EXPECT_EQ(reply["return"]["vcpus"], 2);
}

TEST_F(ServerTest, GarbageAndPartialFramesGetErrorsAndTheConnectionStays) {
    start();
    RawSocket raw(socket);
    raw.send("{\"execute\":\"qmp_capabilities\"}\n");
    raw.read_lines(2);
    // Each bad message gets exactly one GenericError, in order.
    raw.send("this is not json\n");                           // 4 bare words
    raw.send("[1, 2]\n");                                     // not an object
    raw.send("{\"execute\": }\n");                            // invalid JSON
    raw.send("{\"execute\": \"query-status\", \"x\": 1}\n");  // unknown member
    raw.send("\"\xff\xfe\"\n");                               // invalid UTF-8
    raw.send("}\n");                                          // stray closer
    raw.send("{\"execute\": \"query-st");                     // partial, completed below
    std::this_thread::sleep_for(20ms);
    raw.send("atus\", \"id\": \"done\"}");
    const std::size_t expected_errors = 4 + 1 + 1 + 1 + 1 + 1;
    const auto text = raw.read_lines(2 + expected_errors + 1);
    const auto lines = split(text, '\n');
    ASSERT_GE(lines.size(), 2 + expected_errors + 1) << text;
    for (std::size_t i = 2; i < 2 + expected_errors; ++i) {
        const auto reply = json::parse(lines[i]);
        EXPECT_EQ(reply["error"]["class"], "GenericError") << lines[i];
    }
    const auto last = json::parse(lines[2 + expected_errors]);
    EXPECT_EQ(last["id"], "done");
    EXPECT_EQ(last["return"]["status"], "running");
    EXPECT_EQ(json::parse(lines[2 + 4])["error"]["desc"],
              "a message must be a JSON object, not array");
}

TEST_F(ServerTest, OversizedMessageGetsAnErrorThenTheConnectionCloses) {
    start();
    RawSocket raw(socket);
    raw.read_lines(1);
    // A writer thread: the server stops reading once the limit is passed, so
    // a blocking send of the rest would wait for the close.
    std::thread writer([&] {
        std::string big = R"({"execute": "query-status", "arguments": {"pad": ")";
        big += std::string((1 << 20) + 100, 'a');
        big += "\"}}";
        raw.send(big);
    });
    EXPECT_TRUE(raw.wait_closed());
    writer.join();
    const auto lines = split(raw.data(), '\n');
    ASSERT_GE(lines.size(), 2U) << raw.data().substr(0, 300);
    const auto reply = json::parse(lines[1]);
    EXPECT_EQ(reply["error"]["class"], "GenericError");
    EXPECT_NE(reply["error"]["desc"].get<std::string>().find("1048576"), std::string::npos);
    // The server goes on serving others.
    auto c = client();
    EXPECT_EQ(c.execute("query-status")["status"], "running");
}

TEST_F(ServerTest, MessageJustUnderTheLimitIsServed) {
    start();
    auto c = client();
    // ~1 MiB minus a little: an unknown-parameter error proves it was parsed.
    const std::string pad((1 << 20) - 200, 'a');
    auto reply = c.request({{"execute", "query-status"}, {"arguments", {{"pad", pad}}}});
    EXPECT_EQ(reply["error"]["class"], "GenericError");
    EXPECT_NE(reply["error"]["desc"].get<std::string>().find("'pad'"), std::string::npos);
}

TEST_F(ServerTest, HundredConcurrentClients) {
    start();
    constexpr int kClients = 100;
    std::atomic<int> ok{0};
    std::atomic<int> failed{0};
    std::vector<std::thread> threads;
    std::vector<std::unique_ptr<QmpClient>> clients(kClients);
    // Connect all of them first, so they really are connected at once.
    for (int i = 0; i < kClients; ++i) {
        clients[static_cast<std::size_t>(i)] = std::make_unique<QmpClient>(socket);
    }
    EXPECT_EQ(server->client_count(), static_cast<std::size_t>(kClients));
    for (int i = 0; i < kClients; ++i) {
        threads.emplace_back([&, i] {
            try {
                auto& c = *clients[static_cast<std::size_t>(i)];
                for (int n = 0; n < 5; ++n) {
                    if (c.execute("query-status")["status"] != "running" ||
                        c.execute("mshare-query-engine")["vcpus"] != 2) {
                        ++failed;
                        return;
                    }
                }
                ++ok;
            } catch (const std::exception& e) {
                ADD_FAILURE() << "client " << i << ": " << e.what();
                ++failed;
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_EQ(ok.load(), kClients);
    EXPECT_EQ(failed.load(), 0);
    // Every client sees an event.
    server->publish("MSHARE_TEST", json::object());
    for (auto& c : clients) {
        auto event = c->next_event(10s);
        ASSERT_TRUE(event);
        EXPECT_EQ((*event)["event"], "MSHARE_TEST");
    }
    clients.clear();
    EXPECT_TRUE(wait_for_clients(0));
}

TEST_F(ServerTest, TooManyClientsAreRefusedWithAnError) {
    ServerOptions options;
    options.max_clients = 2;
    start(options);
    auto a = client();
    auto b = client();
    try {
        QmpClient c(socket);
        ADD_FAILURE() << "third client accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("too many clients"), std::string::npos) << e.what();
    }
    EXPECT_EQ(a.execute("query-status")["status"], "running");
}

TEST_F(ServerTest, ClientThatLeavesMidCommandHarmsNothing) {
    start();
    backend.hold_accounting(true);
    {
        RawSocket raw(socket);
        raw.send(R"({"execute":"qmp_capabilities"}{"execute":"mshare-query-accounting"})");
        for (int i = 0; i < 2000 && backend.accounting_started() == 0; ++i) {
            std::this_thread::sleep_for(5ms);
        }
        ASSERT_EQ(backend.accounting_started(), 1);
    }  // hangs up while the command runs
    EXPECT_TRUE(wait_for_clients(0));
    backend.hold_accounting(false);
    auto c = client();
    EXPECT_EQ(c.execute("query-status")["status"], "running");
    EXPECT_EQ(c.execute("mshare-query-accounting")["totals"]["savings-bytes"], 2109440);
}

TEST_F(ServerTest, ClientThatStopsSendingStillGetsItsReplies) {
    start();
    RawSocket raw(socket);
    raw.send(R"({"execute":"qmp_capabilities"}{"execute":"query-status","id":1})");
    raw.shutdown_write();  // what `socat` does when its input ends
    EXPECT_TRUE(raw.wait_closed());
    const auto lines = split(raw.data(), '\n');
    ASSERT_GE(lines.size(), 3U) << raw.data();
    EXPECT_EQ(json::parse(lines[2])["return"]["status"], "running");
}

TEST_F(ServerTest, SlowClientIsDroppedWithoutStallingOthersOrThePublisher) {
    ServerOptions options;
    options.max_output_bytes = 256 * 1024;
    start(options);
    RawSocket slow(socket);
    slow.send(R"({"execute":"qmp_capabilities"})");
    slow.read_lines(2);  // then never reads again
    auto fast = client();
    ASSERT_TRUE(wait_for_clients(2));
    const json data = {{"pad", std::string(16 * 1024, 'x')}};
    // 6.4 MiB in all, far beyond the socket buffer and the queue limit; sent
    // in bursts well under the limit, so the client that reads keeps up.
    constexpr int kEvents = 400;
    constexpr int kBurst = 4;
    std::atomic<int> received{0};
    std::thread reader([&] {
        try {
            while (received.load() < kEvents) {
                if (!fast.next_event(10s)) {
                    return;
                }
                ++received;
            }
        } catch (const std::exception& e) {
            ADD_FAILURE() << "reading client: " << e.what();
        }
    });
    for (int i = 0; i < kEvents; i += kBurst) {
        for (int j = 0; j < kBurst; ++j) {
            server->publish("MSHARE_TEST", data);  // never blocks
        }
        for (int n = 0; n < 2000 && received.load() < i + kBurst; ++n) {
            std::this_thread::sleep_for(1ms);
        }
    }
    reader.join();
    EXPECT_EQ(received.load(), kEvents);
    EXPECT_TRUE(wait_for_clients(1)) << "the client that does not read is disconnected";
    EXPECT_EQ(fast.execute("query-status")["status"], "running");
}

TEST_F(ServerTest, KvmMissingCapAndDeviceNotActive) {
    start();
    auto c = client();
    backend.set_kvm(false);
    std::string desc;
    EXPECT_EQ(error_class_of([&] { c.execute("mshare-query-kvm-stats"); }, &desc),
              ErrorClass::kvm_missing_cap);
    EXPECT_NE(desc.find("qemu"), std::string::npos);
    EXPECT_EQ(error_class_of([&] { c.execute("mshare-dirty-log-mark"); }),
              ErrorClass::kvm_missing_cap);
    backend.set_agent_connected(false);
    EXPECT_EQ(error_class_of([&] { c.execute("mshare-query-guest-meminfo"); }),
              ErrorClass::device_not_active);
    EXPECT_EQ(error_class_of([&] {
                  c.execute("mshare-guest-exec", {{"path", "/bin/true"}});
              }),
              ErrorClass::device_not_active);
    backend.set_agent_connected(true);
    const auto id = c.execute("mshare-guest-exec", {{"path", "/bin/echo"}, {"args", {"a", "b"}}});
    const auto status = c.execute("mshare-guest-exec-status", {{"exec-id", id["exec-id"]}});
    EXPECT_EQ(status["stdout"], "a b\n");
    EXPECT_EQ(error_class_of([&] {
                  c.execute("mshare-guest-exec", {{"path", "/bin/true"}, {"timeout", -1}});
              }),
              ErrorClass::generic_error);
}

TEST_F(ServerTest, MissingBackendPartsMeanCommandNotFound) {
    ControlBackend only_vm;
    only_vm.vm = &backend;
    ServerOptions options;
    options.socket_path = socket;
    server = std::make_unique<ControlServer>(options, only_vm);
    QmpClient c(socket);
    EXPECT_EQ(error_class_of([&] { c.execute("mshare-query-processes"); }),
              ErrorClass::command_not_found);
    EXPECT_EQ(error_class_of([&] { c.execute("mshare-query-kvm-stats"); }),
              ErrorClass::command_not_found);
    for (const auto& entry : c.execute("query-commands")) {
        EXPECT_NE(entry["name"], "mshare-query-processes");
    }
    EXPECT_EQ(c.execute("mshare-query-console", {{"lines", 1}})["lines"],
              json::array({"mshare-agent: listening on /dev/ttyS1"}));
}

// A backend that fails in ways it should not: the client gets a
// GenericError and the server goes on.
class ThrowingIntrospection final : public IntrospectionControl {
  public:
    json processes() override { throw std::out_of_range("vector index 9 out of range"); }
    json page_tables(std::uint64_t) override { throw 42; }
    json mshare_regions() override { return json::parse("{\"a\": 1}").at("missing"); }
    json accounting() override { return json::object(); }
};

TEST_F(ServerTest, BackendBugsBecomeGenericErrors) {
    ThrowingIntrospection thrower;
    ControlBackend parts;
    parts.vm = &backend;
    parts.introspection = &thrower;
    server = std::make_unique<ControlServer>(ServerOptions{.socket_path = socket}, parts);
    QmpClient c(socket);
    std::string desc;
    EXPECT_EQ(error_class_of([&] { c.execute("mshare-query-processes"); }, &desc),
              ErrorClass::generic_error);
    EXPECT_EQ(desc, "internal error in 'mshare-query-processes': vector index 9 out of range");
    EXPECT_EQ(error_class_of(
                  [&] {
                      c.execute("mshare-query-page-tables", {{"pid", 1}});
                  },
                  &desc),
              ErrorClass::generic_error);
    EXPECT_NE(desc.find("unknown exception"), std::string::npos) << desc;
    EXPECT_EQ(error_class_of([&] { c.execute("mshare-query-regions"); }),
              ErrorClass::generic_error);
    EXPECT_EQ(c.execute("query-status")["status"], "running");
}

TEST_F(ServerTest, SocketFileIsPrivateNeverStolenAndCleanedUp) {
    start();
    struct stat st {};
    ASSERT_EQ(::stat(socket.c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0600U);
    // A live VMM's socket is not replaced.
    FakeBackend other;
    try {
        ControlServer second(ServerOptions{.socket_path = socket}, other.backend());
        ADD_FAILURE() << "second server took over a live socket";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("in use by a running VMM"), std::string::npos)
            << e.what();
    }
    EXPECT_EQ(client().execute("query-status")["status"], "running");
    server->stop();
    EXPECT_FALSE(std::filesystem::exists(socket));
}

TEST_F(ServerTest, StaleSocketIsReplacedOtherFilesAreNot) {
    {
        // A socket file whose owner died: bound, then closed without unlink.
        ListeningSocket stale(socket);
        (void)::close(stale.release_fd());
        std::filesystem::path keep = socket;
        std::filesystem::rename(keep, dir.path() / "moved.sock");
    }
    std::filesystem::rename(dir.path() / "moved.sock", socket);
    ASSERT_TRUE(std::filesystem::exists(socket));
    start();
    EXPECT_EQ(client().execute("query-status")["status"], "running");
    server->stop();
    server.reset();

    dir.write("control.sock", "not a socket");
    try {
        start();
        ADD_FAILURE() << "replaced a regular file";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("not a socket"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(std::filesystem::is_regular_file(socket));
}

TEST(SocketFile, PathTooLongIsAnError) {
    const std::string path = "/tmp/" + std::string(200, 'x');
    try {
        ListeningSocket s(path);
        ADD_FAILURE() << "accepted a path longer than sun_path";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("1 to 107 bytes"), std::string::npos) << e.what();
    }
}

TEST(EngineEvents, QmpNamesAndData) {
    EngineEvent e;
    e.kind = EngineEvent::Kind::shutdown;
    e.reason = "guest-shutdown";
    auto q = to_qmp_event(e);
    EXPECT_EQ(q.name, "SHUTDOWN");
    EXPECT_EQ(q.data, (json{{"guest", true}, {"reason", "guest-shutdown"}}));
    e.reason = "host-signal";
    EXPECT_EQ(to_qmp_event(e).data["guest"], false);

    e.kind = EngineEvent::Kind::reset;
    e.reason = "triple-fault";
    q = to_qmp_event(e);
    EXPECT_EQ(q.name, "RESET");
    EXPECT_EQ(q.data, (json{{"guest", true}, {"reason", "triple-fault"}}));

    e.kind = EngineEvent::Kind::panic;
    e.reason = "";
    e.data = json::object();
    EXPECT_EQ(to_qmp_event(e).data, (json{{"action", "pause"}}));
    e.data = {{"message", "Kernel panic - not syncing: x"}};
    EXPECT_EQ(to_qmp_event(e).data["info"]["message"], "Kernel panic - not syncing: x");

    e.kind = EngineEvent::Kind::boot_complete;
    e.data = {{"seconds", 1.9}};
    q = to_qmp_event(e);
    EXPECT_EQ(q.name, "MSHARE_BOOT_COMPLETE");
    EXPECT_EQ(q.data, (json{{"seconds", 1.9}}));

    e.kind = EngineEvent::Kind::engine_crash;
    e.reason = "qemu-exited";
    e.data = {{"stderr-tail", "qemu: fatal"}};
    q = to_qmp_event(e);
    EXPECT_EQ(q.name, "MSHARE_ENGINE_CRASH");
    EXPECT_EQ(q.data, (json{{"reason", "qemu-exited"}, {"stderr-tail", "qemu: fatal"}}));

    e.kind = EngineEvent::Kind::stop;
    e.data = json::object();
    EXPECT_EQ(to_qmp_event(e).data, json::object());
}

}  // namespace
}  // namespace mvmm::control
