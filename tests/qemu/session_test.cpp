// VmSession with an engine that runs no guest: paths, listeners and the order
// in which services are started and stopped.
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <mvmm/common/error.hpp>
#include <mvmm/session/vm_session.hpp>

#include "support/temp_dir.hpp"

namespace mvmm {
namespace {

// Runs no guest: start() emits boot_complete, stop() ends with a shutdown event.
class ScriptedEngine final : public Engine {
  public:
    explicit ScriptedEngine(const EngineSetup& setup)
        : runtime_dir(setup.runtime_dir), agent_socket(setup.config.agent_socket) {}
    [[nodiscard]] std::string_view name() const override { return "scripted"; }
    [[nodiscard]] std::string selection_reason() const override { return "test"; }
    void set_event_handler(EventHandler h) override { handler_ = std::move(h); }
    void start() override {
        if (fail_start) {
            throw Error("scripted start failure");
        }
        set(RunState::running);
        handler_({.kind = EngineEvent::Kind::boot_complete, .reason = "marker"});
    }
    void pause() override {}
    void resume() override {}
    void stop() override {
        if (state() == RunState::running) {
            handler_({.kind = EngineEvent::Kind::shutdown, .reason = "host-stop"});
        }
        set(RunState::shutdown);
    }
    RunState wait() override {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [this] { return state_ != RunState::running; });
        return state_;
    }
    [[nodiscard]] RunState state() const override {
        const std::lock_guard lock(mutex_);
        return state_;
    }
    [[nodiscard]] const PhysView& memory() const override { return view_; }
    [[nodiscard]] unsigned vcpu_count() const override { return 1; }
    [[nodiscard]] SpecialRegisters special_registers(unsigned) override { return {}; }

    std::filesystem::path runtime_dir;
    std::filesystem::path agent_socket;
    bool fail_start = false;

  private:
    void set(RunState s) {
        {
            const std::lock_guard lock(mutex_);
            state_ = s;
        }
        cv_.notify_all();
    }
    EventHandler handler_;
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    RunState state_ = RunState::prelaunch;
    PhysView view_;
};

class RecordingService final : public SessionService {
  public:
    RecordingService(std::string name, std::vector<std::string>& log, bool fail = false)
        : name_(std::move(name)), log_(log), fail_(fail) {}
    [[nodiscard]] std::string_view name() const override { return name_; }
    void before_engine_start(VmSession& session) override {
        log_.push_back(name_ + ":before:" + std::string(to_string(session.engine().state())));
        if (fail_) {
            throw Error(name_ + " cannot start");
        }
    }
    void after_engine_start(VmSession& session) override {
        log_.push_back(name_ + ":after:" + std::string(to_string(session.engine().state())));
    }
    void stop() noexcept override { log_.push_back(name_ + ":stop"); }

  private:
    std::string name_;
    std::vector<std::string>& log_;
    bool fail_;
};

VmConfig test_config(const test::TempDir& dir) {
    VmConfig c;
    c.name = "session-test";
    c.kernel = dir.write("bzImage", "not really a kernel");
    c.source = dir.path() / "vm.json";
    return c;
}

ScriptedEngine* g_last_engine = nullptr;

VmSession::Options scripted(bool fail_start = false) {
    return {.console_stdout = false, .engine_factory = [fail_start](const EngineSetup& setup) {
                auto engine = std::make_unique<ScriptedEngine>(setup);
                engine->fail_start = fail_start;
                g_last_engine = engine.get();
                return std::unique_ptr<Engine>(std::move(engine));
            }};
}

TEST(VmSession, FillsPathsInAPrivateRuntimeFolder) {
    test::TempDir dir;
    std::filesystem::path runtime;
    {
        VmSession session(test_config(dir), scripted());
        runtime = session.runtime_dir();
        struct stat st {};
        ASSERT_EQ(::stat(runtime.c_str(), &st), 0);
        EXPECT_TRUE(S_ISDIR(st.st_mode));
        EXPECT_EQ(st.st_mode & 0777, 0700U);
        EXPECT_EQ(session.config().control_socket, runtime / "control.sock");
        EXPECT_EQ(session.config().console_log, runtime / "console.log");
        EXPECT_EQ(session.config().agent_socket, runtime / "agent.sock");
        EXPECT_TRUE(std::filesystem::exists(runtime / "console.log"));
        // The engine got the filled config and the same folder.
        EXPECT_EQ(g_last_engine->runtime_dir, runtime);
        EXPECT_EQ(g_last_engine->agent_socket, runtime / "agent.sock");
        session.console().write("hello\n");
        EXPECT_EQ(session.console().tail(1), std::vector<std::string>{"hello"});
    }
    EXPECT_FALSE(std::filesystem::exists(runtime));
}

TEST(VmSession, KeepsPathsTheConfigGives) {
    test::TempDir dir;
    auto config = test_config(dir);
    config.console_log = dir.path() / "my-console.log";
    config.agent_socket = dir.path() / "agent";
    VmSession session(std::move(config), scripted());
    EXPECT_EQ(session.config().console_log, dir.path() / "my-console.log");
    EXPECT_EQ(session.config().agent_socket, dir.path() / "agent");
    EXPECT_EQ(session.config().control_socket, session.runtime_dir() / "control.sock");
    EXPECT_TRUE(std::filesystem::exists(dir.path() / "my-console.log"));
}

TEST(VmSession, ServicesAndListenersRunInOrder) {
    test::TempDir dir;
    std::vector<std::string> log;
    std::vector<std::string> events;
    {
        VmSession session(test_config(dir), scripted());
        session.add_service(std::make_unique<RecordingService>("control", log));
        session.add_service(std::make_unique<RecordingService>("agent", log));
        session.add_event_listener([&](const EngineEvent& e) {
            events.push_back("first:" + std::string(qmp_event_name(e.kind)));
        });
        session.add_event_listener([&](const EngineEvent& e) {
            events.push_back("second:" + std::string(qmp_event_name(e.kind)));
        });
        session.start();
        EXPECT_THROW(session.add_service(std::make_unique<RecordingService>("late", log)), Error);
        session.stop();
        EXPECT_EQ(session.wait(), RunState::shutdown);
    }
    EXPECT_EQ(log, (std::vector<std::string>{"control:before:prelaunch", "agent:before:prelaunch",
                                             "control:after:running", "agent:after:running",
                                             "agent:stop", "control:stop"}));
    EXPECT_EQ(events,
              (std::vector<std::string>{"first:MSHARE_BOOT_COMPLETE", "second:MSHARE_BOOT_COMPLETE",
                                        "first:SHUTDOWN", "second:SHUTDOWN"}));
}

TEST(VmSession, FailedStartStopsWhatStarted) {
    test::TempDir dir;
    std::vector<std::string> log;
    VmSession session(test_config(dir), scripted(/*fail_start=*/true));
    session.add_service(std::make_unique<RecordingService>("control", log));
    EXPECT_THROW(session.start(), Error);
    EXPECT_EQ(log, (std::vector<std::string>{"control:before:prelaunch", "control:stop"}));

    std::vector<std::string> log2;
    VmSession other(test_config(dir), scripted());
    other.add_service(std::make_unique<RecordingService>("a", log2));
    other.add_service(std::make_unique<RecordingService>("b", log2, /*fail=*/true));
    try {
        other.start();
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_STREQ(e.what(), "b cannot start");
    }
    EXPECT_EQ(log2, (std::vector<std::string>{"a:before:prelaunch", "b:before:prelaunch", "b:stop",
                                              "a:stop"}));
}

}  // namespace
}  // namespace mvmm
