// ControlService: the control socket served for a VmSession, with an engine
// that runs no guest.
#include <condition_variable>
#include <mutex>

#include <gtest/gtest.h>

#include <mvmm/common/error.hpp>
#include <mvmm/common/log.hpp>
#include <mvmm/control/client.hpp>
#include <mvmm/control/control_service.hpp>

#include "support/temp_dir.hpp"

namespace mvmm::control {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

class QuietEngine final : public Engine {
  public:
    std::string_view name() const override { return "quiet"; }
    std::string selection_reason() const override { return "made by the test"; }
    void set_event_handler(EventHandler h) override { handler_ = std::move(h); }
    void start() override { set(RunState::running, EngineEvent::Kind::boot_complete, "marker"); }
    void pause() override { set(RunState::paused, EngineEvent::Kind::stop, ""); }
    void resume() override { set(RunState::running, EngineEvent::Kind::resume, ""); }
    void stop() override {
        if (state() != RunState::shutdown) {
            set(RunState::shutdown, EngineEvent::Kind::shutdown, "host-qmp-quit");
        }
    }
    RunState wait() override {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [this] { return state_ == RunState::shutdown; });
        return state_;
    }
    RunState state() const override {
        const std::lock_guard lock(mutex_);
        return state_;
    }
    const PhysView& memory() const override { return view_; }
    unsigned vcpu_count() const override { return 1; }
    SpecialRegisters special_registers(unsigned) override { return {}; }
    std::string kvm_absent_reason() const override { return "it runs no guest"; }

  private:
    void set(RunState s, EngineEvent::Kind kind, std::string reason) {
        {
            const std::lock_guard lock(mutex_);
            state_ = s;
        }
        cv_.notify_all();
        handler_({.kind = kind, .reason = std::move(reason)});
    }
    EventHandler handler_;
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    RunState state_ = RunState::prelaunch;
    PhysView view_;
};

class ControlServiceTest : public ::testing::Test {
  protected:
    void SetUp() override { log::set_level(log::Level::error); }

    std::unique_ptr<VmSession> make_session() {
        VmConfig config;
        config.name = "control-service-test";
        config.kernel = dir.path() / "bzImage";
        config.control_socket = socket;
        config.console_log = dir.path() / "console.log";
        auto session = std::make_unique<VmSession>(
            config,
            VmSession::Options{.console_stdout = false, .engine_factory = [](const EngineSetup&) {
                                   return std::make_unique<QuietEngine>();
                               }});
        session->add_service(std::make_unique<ControlService>(*session));
        return session;
    }

    mvmm::test::TempDir dir;
    std::filesystem::path socket = dir.path() / "control.sock";
};

TEST_F(ControlServiceTest, ServesTheSessionAndQuitEndsIt) {
    auto session = make_session();
    EXPECT_FALSE(std::filesystem::exists(socket));
    session->start();
    QmpClient client(socket);
    EXPECT_EQ(client.execute("query-status")["status"], "running");
    EXPECT_EQ(client.execute("mshare-query-engine"),
              (json{{"engine", "quiet"}, {"reason", "made by the test"}, {"vcpus", 1}}));
    session->console().write("hello from the guest\n");
    EXPECT_EQ(client.execute("mshare-query-console", {{"lines", 1}})["lines"],
              json::array({"hello from the guest"}));

    client.execute("stop");
    auto event = client.next_event(10s);
    ASSERT_TRUE(event);
    EXPECT_EQ((*event)["event"], "STOP");
    EXPECT_EQ(client.execute("query-status")["status"], "paused");
    client.execute("cont");

    auto reply = client.request({{"execute", "mshare-query-kvm-stats"}});
    EXPECT_EQ(reply["error"]["class"], "KVMMissingCap");

    client.execute("quit");
    EXPECT_EQ(session->wait(), RunState::shutdown);
    // The SHUTDOWN event reached the client before the server closed.
    bool shutdown_seen = false;
    try {
        while (auto e = client.next_event(10s)) {
            shutdown_seen = shutdown_seen || (*e)["event"] == "SHUTDOWN";
        }
    } catch (const Error&) {
        // the server closed the connection after flushing
    }
    EXPECT_TRUE(shutdown_seen);
    EXPECT_FALSE(std::filesystem::exists(socket));
}

TEST_F(ControlServiceTest, ASecondVmOnTheSameSocketFailsToStart) {
    auto first = make_session();
    first->start();
    auto second = make_session();
    try {
        second->start();
        ADD_FAILURE() << "second VM took a live socket";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("in use by a running VMM"), std::string::npos)
            << e.what();
    }
    EXPECT_EQ(QmpClient(socket).execute("query-status")["status"], "running");
    first->stop();
    first->wait();
}

}  // namespace
}  // namespace mvmm::control
