// `mshare-vmm ctl` end to end: the real binary against a server with the
// fake backend. Tables for people, --json for scripts, exit statuses.
#include <fstream>

#include <gtest/gtest.h>

#include <mvmm/common/log.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/control/server.hpp>

#include "control/support/fake_backend.hpp"
#include "control/support/run_process.hpp"
#include "support/temp_dir.hpp"

namespace mvmm::control {
namespace {

using nlohmann::json;
using test::ProcessResult;

class CtlTest : public ::testing::Test {
  protected:
    void SetUp() override {
        log::set_level(log::Level::error);
        server = std::make_unique<ControlServer>(ServerOptions{.socket_path = socket},
                                                 backend.backend());
        backend.set_event_sink([this](const EngineEvent& e) { server->publish(e); });
    }
    void TearDown() override { backend.set_event_sink({}); }

    ProcessResult ctl(const std::string& args) {
        return test::run_process(std::string(MVMM_BINARY_DIR) +
                                     "/vmm/app/mshare-vmm ctl --socket '" + socket.string() + "' " +
                                     args,
                                 dir.path());
    }
    json ctl_json(const std::string& args) {
        const auto result = ctl("--json " + args);
        EXPECT_EQ(result.status, 0) << result.err;
        return json::parse(result.out);
    }

    mvmm::test::TempDir dir;
    std::filesystem::path socket = dir.path() / "control.sock";
    test::FakeBackend backend;
    std::unique_ptr<ControlServer> server;
};

TEST_F(CtlTest, StatusAsTextAndJson) {
    auto result = ctl("status");
    ASSERT_EQ(result.status, 0) << result.err;
    EXPECT_NE(result.out.find("status  running"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("engine  kvm"), std::string::npos) << result.out;
    const auto value = ctl_json("status");
    EXPECT_EQ(value["status"], "running");
    EXPECT_EQ(value["running"], true);
    EXPECT_EQ(value["vcpus"], 2);
}

TEST_F(CtlTest, ProcessesTable) {
    const auto result = ctl("processes");
    ASSERT_EQ(result.status, 0) << result.err;
    // Header with the pid first, then one row per process.
    EXPECT_NE(result.out.find("PID  COMM"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("60   ptbench"), std::string::npos) << result.out;
    EXPECT_EQ(ctl_json("processes")["processes"].size(), 4U);
}

TEST_F(CtlTest, AccountingShowsBytesForPeople) {
    const auto result = ctl("accounting");
    ASSERT_EQ(result.status, 0) << result.err;
    EXPECT_NE(result.out.find("savings-bytes"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("2.0 MiB (2109440)"), std::string::npos) << result.out;
    EXPECT_EQ(ctl_json("accounting")["totals"]["savings-bytes"], 2109440);
}

TEST_F(CtlTest, WatchRefreshesTheAccountingView) {
    const auto result = ctl("--json watch --interval 0.05 --count 3");
    ASSERT_EQ(result.status, 0) << result.err;
    const auto lines = split(std::string(trim(result.out)), '\n');
    ASSERT_EQ(lines.size(), 3U) << result.out;
    for (const auto& line : lines) {
        EXPECT_EQ(json::parse(line)["totals"]["walked-bytes"], 2248704);
    }
    const auto text = ctl("watch --interval 0.05 --count 2");
    ASSERT_EQ(text.status, 0) << text.err;
    std::size_t headers = 0;
    for (std::size_t pos = 0;
         (pos = text.out.find("mshare-vmm accounting at", pos)) != std::string::npos; ++pos) {
        ++headers;
    }
    EXPECT_EQ(headers, 2U) << text.out;
}

TEST_F(CtlTest, ErrorReplyMeansNonZeroExit) {
    backend.set_kvm(false);
    auto result = ctl("kvm-stats");
    EXPECT_EQ(result.status, 1);
    EXPECT_NE(result.err.find("KVMMissingCap"), std::string::npos) << result.err;
    result = ctl("--json kvm-stats");
    EXPECT_EQ(result.status, 1);
    EXPECT_EQ(json::parse(result.out)["error"]["class"], "KVMMissingCap");
    result = ctl("page-tables 12345");
    EXPECT_EQ(result.status, 1);
    EXPECT_NE(result.err.find("DeviceNotFound"), std::string::npos) << result.err;
    result = ctl("raw no-such-command");
    EXPECT_EQ(result.status, 1);
    EXPECT_NE(result.err.find("CommandNotFound"), std::string::npos) << result.err;
}

TEST_F(CtlTest, NoServerIsAClearError) {
    server.reset();
    const auto result = ctl("status");
    EXPECT_EQ(result.status, 1);
    EXPECT_NE(result.err.find("is the VMM running?"), std::string::npos) << result.err;
}

TEST_F(CtlTest, StopContQuitAndEvents) {
    EXPECT_EQ(ctl("stop").status, 0);
    EXPECT_EQ(ctl_json("status")["status"], "paused");
    EXPECT_EQ(ctl("cont").status, 0);
    EXPECT_EQ(ctl_json("status")["status"], "running");
    EXPECT_EQ(ctl("quit").status, 0);
    EXPECT_EQ(backend.quit_calls(), 1);
}

TEST_F(CtlTest, EventsArePrintedAsTheyArrive) {
    // Publish from a thread once the ctl client is connected and negotiated.
    std::thread publisher([this] {
        for (int i = 0; i < 2000 && server->client_count() == 0; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        server->publish("MSHARE_AGENT_READY", json{{"seconds", 2.5}});
        EngineEvent e;
        e.kind = EngineEvent::Kind::boot_complete;
        e.data = {{"seconds", 1.9}};
        server->publish(e);
    });
    const auto result = ctl("--json events --count 2 --wait 20");
    publisher.join();
    ASSERT_EQ(result.status, 0) << result.err;
    const auto lines = split(std::string(trim(result.out)), '\n');
    ASSERT_EQ(lines.size(), 2U) << result.out;
    EXPECT_EQ(json::parse(lines[0])["event"], "MSHARE_AGENT_READY");
    EXPECT_EQ(json::parse(lines[1])["event"], "MSHARE_BOOT_COMPLETE");
    EXPECT_EQ(json::parse(lines[1])["data"]["seconds"], 1.9);
}

TEST_F(CtlTest, ExecPrintsOutputAndExitsWithTheProgramsStatus) {
    auto result = ctl("exec -- /bin/echo hello guest");
    EXPECT_EQ(result.status, 0) << result.err;
    EXPECT_EQ(result.out, "hello guest\n");
    result = ctl("exec -- /bin/false");
    EXPECT_EQ(result.status, 1);
    backend.set_agent_connected(false);
    result = ctl("exec -- /bin/true");
    EXPECT_EQ(result.status, 1);
    EXPECT_NE(result.err.find("DeviceNotActive"), std::string::npos) << result.err;
}

TEST_F(CtlTest, RawTakesKeyValuesOrJson) {
    auto value = json::parse(ctl("raw mshare-query-page-tables pid=60").out);
    EXPECT_EQ(value["comm"], "ptbench");
    value = json::parse(ctl("raw mshare-query-console '{\"lines\": 1}'").out);
    EXPECT_EQ(value["lines"].size(), 1U);
    const auto bad = ctl("raw mshare-query-page-tables pid");
    EXPECT_EQ(bad.status, 1);
    EXPECT_NE(bad.err.find("KEY=VALUE"), std::string::npos) << bad.err;
}

TEST_F(CtlTest, TextExampleOfTheProtocolReferenceIsWhatCtlPrints) {
    std::ifstream in(std::filesystem::path(MVMM_SOURCE_DIR) / "docs" / "control-protocol.md");
    const std::string prompt = "$ mshare-vmm ctl --socket control.sock page-tables 60";
    std::string line;
    std::string shown;
    bool inside = false;
    while (std::getline(in, line)) {
        if (line == prompt) {
            inside = true;
        } else if (inside && line == "```") {
            break;
        } else if (inside) {
            shown += line + "\n";
        }
    }
    ASSERT_TRUE(inside) << "the page-tables example is missing from the doc";
    const auto result = ctl("page-tables 60");
    ASSERT_EQ(result.status, 0) << result.err;
    EXPECT_EQ(result.out, shown);
}

TEST_F(CtlTest, OtherViews) {
    for (const char* command : {"version", "commands", "console -n 2", "regions", "page-tables 60",
                                "kvm-stats", "meminfo", "dirty-log mark", "dirty-log collect"}) {
        const auto result = ctl(command);
        EXPECT_EQ(result.status, 0) << command << ": " << result.err;
        EXPECT_FALSE(result.out.empty()) << command;
    }
    EXPECT_NE(ctl("meminfo").out.find("PageTables"), std::string::npos);
    EXPECT_NE(ctl("kvm-stats").out.find("vcpu 0:"), std::string::npos);
    EXPECT_NE(ctl("regions").out.find("SHARE-COUNT"), std::string::npos);
}

}  // namespace
}  // namespace mvmm::control
