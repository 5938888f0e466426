#include <mvmm/engine/events.hpp>

namespace mvmm {

std::string_view to_string(RunState state) {
    switch (state) {
        case RunState::prelaunch:
            return "prelaunch";
        case RunState::running:
            return "running";
        case RunState::paused:
            return "paused";
        case RunState::shutdown:
            return "shutdown";
        case RunState::guest_panicked:
            return "guest-panicked";
        case RunState::internal_error:
            return "internal-error";
    }
    return "unknown";
}

std::string_view qmp_event_name(EngineEvent::Kind kind) {
    switch (kind) {
        case EngineEvent::Kind::stop:
            return "STOP";
        case EngineEvent::Kind::resume:
            return "RESUME";
        case EngineEvent::Kind::reset:
            return "RESET";
        case EngineEvent::Kind::shutdown:
            return "SHUTDOWN";
        case EngineEvent::Kind::panic:
            return "GUEST_PANICKED";
        case EngineEvent::Kind::engine_crash:
            return "MSHARE_ENGINE_CRASH";
        case EngineEvent::Kind::boot_complete:
            return "MSHARE_BOOT_COMPLETE";
    }
    return "UNKNOWN";
}

}  // namespace mvmm
