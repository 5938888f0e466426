// One VM and what runs around it. A VmSession owns the runtime folder, the
// console sink and the engine; services (the control socket server, the agent
// client, ...) plug in through SessionService and see the session.
//
//   VmSession session(load_vm_config(file));
//   session.add_service(std::make_unique<ControlServer>(...));
//   session.add_event_listener([](const EngineEvent& e) { ... });
//   session.start();
//   RunState end = session.wait();
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include <mvmm/common/runtime_dir.hpp>
#include <mvmm/config/vm_config.hpp>
#include <mvmm/engine/console.hpp>
#include <mvmm/engine/engine.hpp>
#include <mvmm/engine/factory.hpp>

namespace mvmm {

class VmSession;

// Something that runs alongside the VM. Hooks are called in the order the
// services were added; stop() in the reverse order.
class SessionService {
  public:
    virtual ~SessionService() = default;
    [[nodiscard]] virtual std::string_view name() const = 0;
    // Before the engine starts (the VM is in "prelaunch"). Throw Error to fail start().
    virtual void before_engine_start(VmSession& /*session*/) {}
    // After the engine started: the guest runs and the agent socket exists.
    virtual void after_engine_start(VmSession& /*session*/) {}
    // When the session ends or fails to start, even if this service's start
    // hooks threw or never ran; must not throw.
    virtual void stop() noexcept {}
};

class VmSession {
  public:
    using EngineFactory = std::function<std::unique_ptr<Engine>(const EngineSetup&)>;

    struct Options {
        // Overrides the config's console_stdout when set.
        std::optional<bool> console_stdout;
        // Makes the engine; make_engine() (the config's `engine` choice) if empty.
        EngineFactory engine_factory;
    };

    // Makes the runtime folder, fills empty socket and log paths with files in
    // it, opens the console log and makes (but does not start) the engine.
    // Throws Error if any of that fails, e.g. `engine: kvm` where KVM cannot run.
    explicit VmSession(VmConfig config);
    VmSession(VmConfig config, Options options);
    VmSession(const VmSession&) = delete;
    VmSession& operator=(const VmSession&) = delete;
    // Stops the services, then the VM, and removes the runtime folder.
    ~VmSession();

    // The config with every path filled in.
    [[nodiscard]] const VmConfig& config() const noexcept { return config_; }
    [[nodiscard]] const std::filesystem::path& runtime_dir() const noexcept {
        return runtime_dir_.path();
    }
    [[nodiscard]] ConsoleSink& console() noexcept { return *console_; }
    [[nodiscard]] Engine& engine() noexcept { return *engine_; }

    // Before start(): a service to run with the VM.
    void add_service(std::unique_ptr<SessionService> service);
    // Before start(): called on the engine's event thread for every event.
    void add_event_listener(Engine::EventHandler listener);

    // Starts the services' first half, the engine, then their second half.
    // Throws Error (after stopping whatever started) if any of it fails.
    void start();
    // Ends the VM; idempotent, from any thread.
    void stop();
    // Blocks until the VM has ended; returns how it ended.
    RunState wait();

  private:
    void dispatch(const EngineEvent& event);
    void stop_services() noexcept;

    VmConfig config_;
    RuntimeDir runtime_dir_;
    std::unique_ptr<ConsoleSink> console_;
    std::unique_ptr<Engine> engine_;
    std::vector<std::unique_ptr<SessionService>> services_;
    std::vector<Engine::EventHandler> listeners_;
    bool started_ = false;
    bool services_stopped_ = false;
};

}  // namespace mvmm
