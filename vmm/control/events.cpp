#include <mvmm/common/strings.hpp>
#include <mvmm/control/events.hpp>

namespace mvmm::control {
namespace {

// QEMU's ShutdownCause names that start with "host-" are the host's doing;
// everything else (guest-shutdown, guest-reset, guest-panic, triple faults)
// the guest's.
bool caused_by_guest(std::string_view reason) {
    return !starts_with(reason, "host-");
}

nlohmann::json merged(nlohmann::json base, const nlohmann::json& extra) {
    if (extra.is_object()) {
        for (const auto& [key, value] : extra.items()) {
            if (!base.contains(key)) {
                base[key] = value;
            }
        }
    }
    return base;
}

}  // namespace

QmpEvent to_qmp_event(const EngineEvent& event) {
    QmpEvent out;
    out.name = std::string(qmp_event_name(event.kind));
    out.when = event.when;
    switch (event.kind) {
        case EngineEvent::Kind::stop:
        case EngineEvent::Kind::resume:
            break;  // QEMU's STOP and RESUME carry no data
        case EngineEvent::Kind::shutdown:
        case EngineEvent::Kind::reset: {
            const std::string reason = event.reason.empty() ? "guest-shutdown" : event.reason;
            out.data = {{"guest", caused_by_guest(reason)}, {"reason", reason}};
            break;
        }
        case EngineEvent::Kind::panic:
            out.data = {{"action", "pause"}};
            if (!event.reason.empty() || (event.data.is_object() && !event.data.empty())) {
                out.data["info"] =
                    merged(event.reason.empty() ? nlohmann::json::object()
                                                : nlohmann::json{{"reason", event.reason}},
                           event.data);
            }
            break;
        case EngineEvent::Kind::engine_crash:
        case EngineEvent::Kind::boot_complete:
            out.data = merged(event.reason.empty() ? nlohmann::json::object()
                                                   : nlohmann::json{{"reason", event.reason}},
                              event.data);
            break;
    }
    return out;
}

}  // namespace mvmm::control
