#include <mvmm/common/error.hpp>
#include <mvmm/common/log.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/session/vm_session.hpp>

namespace mvmm {
namespace {

VmConfig with_default_paths(VmConfig config, const std::filesystem::path& dir) {
    if (config.control_socket.empty()) {
        config.control_socket = dir / "control.sock";
    }
    if (config.console_log.empty()) {
        config.console_log = dir / "console.log";
    }
    if (config.agent_socket.empty()) {
        config.agent_socket = dir / "agent.sock";
    }
    return config;
}

}  // namespace

VmSession::VmSession(VmConfig config) : VmSession(std::move(config), Options{}) {}

VmSession::VmSession(VmConfig config, Options options)
    : config_(std::move(config)), runtime_dir_(config_.name) {
    config_ = with_default_paths(std::move(config_), runtime_dir_.path());
    if (options.console_stdout) {
        config_.console_stdout = *options.console_stdout;
    }
    console_ = std::make_unique<ConsoleSink>(ConsoleSink::Options{
        .log_file = config_.console_log, .echo_stdout = config_.console_stdout, .tail_lines = 200});
    const EngineSetup setup{
        .config = config_, .console = *console_, .runtime_dir = runtime_dir_.path()};
    engine_ = options.engine_factory ? options.engine_factory(setup) : make_engine(setup);
    if (!engine_) {
        throw Error("VM session: the engine factory made no engine");
    }
    engine_->set_event_handler([this](const EngineEvent& event) { dispatch(event); });
    log::info("session", "VM ", quote(config_.name), ": runtime folder ",
              quote(runtime_dir_.path().string()), ", console log ",
              quote(config_.console_log.string()), ", agent socket ",
              quote(config_.agent_socket.string()));
}

VmSession::~VmSession() {
    stop_services();
    if (engine_) {
        engine_->stop();
        if (started_) {
            engine_->wait();
        }
        engine_.reset();  // before the console and the runtime folder it uses
    }
}

void VmSession::add_service(std::unique_ptr<SessionService> service) {
    if (started_) {
        throw Error(
            cat("VM session: service ", quote(service->name()), " added after the VM started"));
    }
    services_.push_back(std::move(service));
}

void VmSession::add_event_listener(Engine::EventHandler listener) {
    if (started_) {
        throw Error("VM session: event listener added after the VM started");
    }
    listeners_.push_back(std::move(listener));
}

void VmSession::dispatch(const EngineEvent& event) {
    for (const auto& listener : listeners_) {
        listener(event);
    }
}

void VmSession::start() {
    if (started_) {
        throw Error("VM session: start() was already called");
    }
    started_ = true;
    try {
        for (auto& service : services_) {
            service->before_engine_start(*this);
        }
        engine_->start();
        for (auto& service : services_) {
            service->after_engine_start(*this);
        }
    } catch (...) {
        stop_services();
        engine_->stop();
        throw;
    }
}

void VmSession::stop() {
    engine_->stop();
}

RunState VmSession::wait() {
    const RunState state = engine_->wait();
    stop_services();
    return state;
}

void VmSession::stop_services() noexcept {
    if (services_stopped_) {
        return;
    }
    services_stopped_ = true;
    for (auto it = services_.rbegin(); it != services_.rend(); ++it) {
        (*it)->stop();
    }
}

}  // namespace mvmm
