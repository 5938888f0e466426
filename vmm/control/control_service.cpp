#include <mvmm/common/log.hpp>
#include <mvmm/control/control_service.hpp>

namespace mvmm::control {

ControlService::ControlService(VmSession& session, Extend extend, ServerOptions options)
    : extend_(std::move(extend)), options_(std::move(options)) {
    // Engine threads call this; the server lives until this service is
    // destroyed, which the session does only after its engine is gone.
    session.add_event_listener([this](const EngineEvent& event) {
        if (ControlServer* server = live_.load()) {
            server->publish(event);
        }
    });
}

ControlService::~ControlService() {
    stop();
}

void ControlService::before_engine_start(VmSession& session) {
    backend_ = std::make_unique<EngineBackend>(session.engine(), session.console(),
                                               [&session] { session.stop(); });
    ControlBackend backend = backend_->backend();
    if (extend_) {
        extend_(session, backend);
    }
    options_.socket_path = session.config().control_socket;
    server_ = std::make_unique<ControlServer>(options_, backend);
    live_.store(server_.get());
}

void ControlService::stop() noexcept {
    live_.store(nullptr);
    if (server_) {
        try {
            server_->stop();
        } catch (const std::exception& e) {
            log::error("control", "stopping the server: ", e.what());
        }
    }
}

}  // namespace mvmm::control
