// The control socket as a VmSession service. The server starts before the
// engine (clients can connect while the guest boots: query-status says
// "prelaunch"), sends every engine event to its clients, answers quit by
// stopping the session, and stops with the session after flushing its
// replies.
//
//   VmSession session(config);
//   session.add_service(std::make_unique<control::ControlService>(session));
//   session.start();
#pragma once

#include <atomic>
#include <functional>
#include <memory>

#include <mvmm/control/engine_backend.hpp>
#include <mvmm/control/server.hpp>
#include <mvmm/session/vm_session.hpp>

namespace mvmm::control {

class ControlService final : public SessionService {
  public:
    // Fills in the backend parts beyond the VM and KVM ones (introspection,
    // agent) once the engine exists; may leave them empty.
    using Extend = std::function<void(VmSession& session, ControlBackend& backend)>;

    // Registers the event listener on `session` (before session.start()).
    // The socket is the session config's control_socket.
    explicit ControlService(VmSession& session, Extend extend = {}, ServerOptions options = {});
    ~ControlService() override;

    [[nodiscard]] std::string_view name() const override { return "control socket"; }
    // Binds the socket; throws Error (failing the start) if it is taken.
    void before_engine_start(VmSession& session) override;
    void stop() noexcept override;

    // The running server, or nullptr before start and after stop.
    [[nodiscard]] ControlServer* server() noexcept { return live_.load(); }

  private:
    Extend extend_;
    ServerOptions options_;
    std::unique_ptr<EngineBackend> backend_;
    std::unique_ptr<ControlServer> server_;
    std::atomic<ControlServer*> live_{nullptr};  // what the event listener publishes to
};

}  // namespace mvmm::control
