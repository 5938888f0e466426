#include <mvmm/common/strings.hpp>
#include <mvmm/control/engine_backend.hpp>
#include <mvmm/protocol/error_class.hpp>

namespace mvmm::control {

EngineBackend::EngineBackend(Engine& engine, ConsoleSink& console, std::function<void()> on_quit)
    : engine_(engine), console_(console), on_quit_(std::move(on_quit)) {}

ControlBackend EngineBackend::backend() {
    ControlBackend out;
    out.vm = this;
    out.kvm = this;
    return out;
}

RunState EngineBackend::run_state() {
    return engine_.state();
}

nlohmann::json EngineBackend::engine_info() {
    return {{"engine", engine_.name()},
            {"reason", engine_.selection_reason()},
            {"vcpus", engine_.vcpu_count()}};
}

void EngineBackend::pause() {
    engine_.pause();
}

void EngineBackend::resume() {
    engine_.resume();
}

void EngineBackend::quit() {
    if (on_quit_) {
        on_quit_();
    } else {
        engine_.stop();
    }
}

VmControl::ConsoleTail EngineBackend::console_tail(std::size_t lines) {
    return {console_.tail(lines), console_.bytes_written()};
}

KvmView& EngineBackend::kvm_view() {
    KvmView* view = engine_.kvm();
    if (view == nullptr) {
        std::string why = engine_.kvm_absent_reason();
        throw protocol::CommandError(
            protocol::ErrorClass::kvm_missing_cap,
            cat("the ", engine_.name(), " engine has no KVM statistics or dirty log",
                why.empty() ? "" : ": ", why));
    }
    return *view;
}

nlohmann::json EngineBackend::statistics() {
    return kvm_view().statistics();
}

void EngineBackend::dirty_log_mark() {
    kvm_view().dirty_log_mark();
}

nlohmann::json EngineBackend::dirty_log_collect() {
    const auto pfns = kvm_view().dirty_log_collect();
    return {{"count", pfns.size()}, {"pfns", pfns}};
}

}  // namespace mvmm::control
