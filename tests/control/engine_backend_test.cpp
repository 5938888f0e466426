// EngineBackend: the control socket's VM and KVM parts over an Engine and
// the console, checked through a real server.
#include <gtest/gtest.h>

#include <mvmm/common/log.hpp>
#include <mvmm/control/client.hpp>
#include <mvmm/control/engine_backend.hpp>
#include <mvmm/control/server.hpp>
#include <mvmm/protocol/error_class.hpp>

#include "support/temp_dir.hpp"

namespace mvmm::control {
namespace {

using nlohmann::json;

class FakeKvm final : public KvmView {
  public:
    json statistics() override {
        return {{"vm", json::array({{{"name", "pages_4k"}, {"value", 7}}})}};
    }
    void dirty_log_mark() override { ++marks; }
    std::vector<std::uint64_t> dirty_log_collect() override { return {3, 5}; }
    int marks = 0;
};

// An engine that only keeps state: enough for the control paths.
class FakeEngine final : public Engine {
  public:
    std::string_view name() const override { return kvm_ ? "kvm" : "qemu"; }
    std::string selection_reason() const override { return "chosen by the test"; }
    void set_event_handler(EventHandler handler) override { handler_ = std::move(handler); }
    void start() override { state_ = RunState::running; }
    void pause() override {
        state_ = RunState::paused;
        emit(EngineEvent::Kind::stop);
    }
    void resume() override {
        state_ = RunState::running;
        emit(EngineEvent::Kind::resume);
    }
    void stop() override {
        ++stops;
        state_ = RunState::shutdown;
    }
    RunState wait() override { return state_; }
    RunState state() const override { return state_; }
    const PhysView& memory() const override { return memory_; }
    unsigned vcpu_count() const override { return 3; }
    SpecialRegisters special_registers(unsigned) override { return {}; }
    KvmView* kvm() override { return kvm_ ? &kvm_view : nullptr; }
    std::string kvm_absent_reason() const override { return "QEMU runs the guest with TCG"; }

    void set_kvm(bool on) { kvm_ = on; }
    FakeKvm kvm_view;
    std::atomic<int> stops{0};

  private:
    void emit(EngineEvent::Kind kind) {
        if (handler_) {
            EngineEvent event;
            event.kind = kind;
            handler_(event);
        }
    }
    std::atomic<RunState> state_{RunState::running};
    std::atomic<bool> kvm_{true};
    EventHandler handler_;
    PhysView memory_;
};

class EngineBackendTest : public ::testing::Test {
  protected:
    void SetUp() override {
        log::set_level(log::Level::error);
        server = std::make_unique<ControlServer>(ServerOptions{.socket_path = socket},
                                                 backend.backend());
        engine.set_event_handler([this](const EngineEvent& e) { server->publish(e); });
    }

    mvmm::test::TempDir dir;
    std::filesystem::path socket = dir.path() / "c.sock";
    FakeEngine engine;
    ConsoleSink console{{.log_file = std::nullopt, .echo_stdout = false, .tail_lines = 100}};
    EngineBackend backend{engine, console};
    std::unique_ptr<ControlServer> server;
};

TEST_F(EngineBackendTest, StatusEngineConsoleAndVcpuControl) {
    QmpClient c(socket);
    auto status = c.execute("query-status");
    EXPECT_EQ(status["status"], "running");
    EXPECT_EQ(status["mshare-engine"], "kvm");
    EXPECT_EQ(status["mshare-engine-reason"], "chosen by the test");
    EXPECT_EQ(c.execute("mshare-query-engine"),
              (json{{"engine", "kvm"}, {"reason", "chosen by the test"}, {"vcpus", 3}}));

    console.write("first\nsecond\nthird");
    const auto tail = c.execute("mshare-query-console", {{"lines", 2}});
    EXPECT_EQ(tail["lines"], json::array({"second", "third"}));
    EXPECT_EQ(tail["bytes-total"], 18);
    auto reply = c.request({{"execute", "mshare-query-console"}, {"arguments", {{"lines", 0}}}});
    EXPECT_EQ(reply["error"]["class"], "GenericError");

    c.execute("stop");
    EXPECT_EQ(engine.state(), RunState::paused);
    auto event = c.next_event(std::chrono::seconds(10));
    ASSERT_TRUE(event);
    EXPECT_EQ((*event)["event"], "STOP");
    c.execute("cont");
    EXPECT_EQ(engine.state(), RunState::running);

    c.execute("quit");
    EXPECT_EQ(engine.stops.load(), 1);
    EXPECT_EQ(c.execute("query-status")["status"], "shutdown");
}

TEST_F(EngineBackendTest, KvmPartsGoThroughKvmViewOrSayWhyNot) {
    QmpClient c(socket);
    EXPECT_EQ(c.execute("mshare-query-kvm-stats")["vm"][0]["value"], 7);
    c.execute("mshare-dirty-log-mark");
    EXPECT_EQ(engine.kvm_view.marks, 1);
    EXPECT_EQ(c.execute("mshare-dirty-log-collect"), (json{{"count", 2}, {"pfns", {3, 5}}}));
    engine.set_kvm(false);
    try {
        c.execute("mshare-query-kvm-stats");
        ADD_FAILURE() << "no error without KVM";
    } catch (const protocol::CommandError& e) {
        EXPECT_EQ(e.error_class(), protocol::ErrorClass::kvm_missing_cap);
        EXPECT_EQ(std::string(e.what()),
                  "the qemu engine has no KVM statistics or dirty log: QEMU runs the guest with "
                  "TCG");
    }
}

TEST_F(EngineBackendTest, QuitHookReplacesEngineStop) {
    int hooked = 0;
    EngineBackend hooked_backend(engine, console, [&] { ++hooked; });
    hooked_backend.quit();
    EXPECT_EQ(hooked, 1);
    EXPECT_EQ(engine.stops.load(), 0);
}

}  // namespace
}  // namespace mvmm::control
