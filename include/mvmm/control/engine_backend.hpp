// The control socket's VM and KVM parts answered by an Engine and the
// console: what `mshare-vmm run` plugs into its ControlServer.
//
//   EngineBackend backend(*engine, console);
//   ControlServer server({.socket_path = config.control_socket}, backend.backend());
//   engine->set_event_handler([&](const EngineEvent& e) { server.publish(e); ... });
#pragma once

#include <functional>

#include <mvmm/control/backend.hpp>
#include <mvmm/engine/console.hpp>
#include <mvmm/engine/engine.hpp>

namespace mvmm::control {

class EngineBackend final : public VmControl, public KvmControl {
  public:
    // `on_quit` runs when a client sends quit; by default it stops the engine,
    // which ends Engine::wait() in the VMM's main thread.
    EngineBackend(Engine& engine, ConsoleSink& console, std::function<void()> on_quit = {});

    // VM and KVM parts; the introspection and agent parts stay empty for the
    // owner to fill in.
    [[nodiscard]] ControlBackend backend();

    // VmControl
    RunState run_state() override;
    nlohmann::json engine_info() override;
    void pause() override;
    void resume() override;
    void quit() override;
    ConsoleTail console_tail(std::size_t lines) override;

    // KvmControl: through Engine::kvm(); KVMMissingCap with the engine's
    // reason when it has none.
    nlohmann::json statistics() override;
    void dirty_log_mark() override;
    nlohmann::json dirty_log_collect() override;

  private:
    KvmView& kvm_view();

    Engine& engine_;
    ConsoleSink& console_;
    std::function<void()> on_quit_;
};

}  // namespace mvmm::control
