#include <mvmm/common/clock.hpp>
#include <mvmm/common/log.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/guest_services/agent_service.hpp>
#include <mvmm/guest_services/control_replies.hpp>
#include <mvmm/guest_services/introspection_backend.hpp>
#include <mvmm/protocol/error_class.hpp>

namespace mvmm::guest_services {

using nlohmann::json;

IntrospectionBackend::IntrospectionBackend(Engine& engine, std::optional<Profile> profile,
                                           AgentService* agent)
    : engine_(engine), introspector_(engine, std::move(profile)), agent_(agent) {}

void IntrospectionBackend::require_kvm() const {
    if (engine_.kvm() == nullptr) {
        auto reason = engine_.kvm_absent_reason();
        throw protocol::CommandError(
            protocol::ErrorClass::kvm_missing_cap,
            cat("the ", engine_.name(), " engine has no KVM statistics or dirty log",
                reason.empty() ? std::string() : cat(": ", reason)));
    }
}

void IntrospectionBackend::dirty_mark() {
    require_kvm();
    introspector_.dirty_mark();
}

json IntrospectionBackend::dirty_collect() {
    require_kvm();
    return dirty_reply(introspector_.dirty_report());
}

std::optional<GuestFigures> IntrospectionBackend::collect_guest_figures(std::string& why_not) {
    if (agent_ == nullptr) {
        why_not = "the VMM has no guest agent connection";
        return std::nullopt;
    }
    try {
        const Stopwatch took;
        const auto meminfo = agent_->execute("guest-meminfo");
        // Reading /proc/PID/status of every process takes a while in a big guest.
        const auto processes =
            agent_->execute("guest-processes", json::object(), std::chrono::seconds(120));
        return GuestFigures::from_agent(meminfo, processes, took.seconds());
    } catch (const Error& e) {
        why_not = cat("the guest agent did not give its figures: ", e.what());
        return std::nullopt;
    }
}

json IntrospectionBackend::report(bool guest_figures, bool scan) {
    ReportRequest request;
    request.analysis.scan = scan;
    std::string why_not;
    if (guest_figures) {
        // Collected while the guest runs, just before the walk pauses it.
        request.guest = collect_guest_figures(why_not);
    }
    auto out = introspector_.report(request);
    if (guest_figures && !request.guest) {
        out["totals"]["guest_page_tables_absent_reason"] = why_not;
    }
    if (!profile_checked_logged_ && out["guest"]["profile"].is_object()) {
        const auto& p = out["guest"]["profile"];
        log::info("introspect", "profile ", quote(p.value("path", std::string())),
                  " matches the guest (build id checked: ", p.value("build_id_checked", false),
                  ", banner checked: ", p.value("banner_checked", false), ")");
        profile_checked_logged_ = true;
    }
    return out;
}

json IntrospectionBackend::processes() {
    return processes_reply(report(false, false));
}

json IntrospectionBackend::page_tables(std::uint64_t pid) {
    if (pid > static_cast<std::uint64_t>(INT32_MAX)) {
        throw protocol::CommandError(protocol::ErrorClass::device_not_found,
                                     cat("no process with pid ", pid));
    }
    auto reply = page_tables_reply(report(false), static_cast<std::int64_t>(pid));
    if (!reply) {
        throw protocol::CommandError(protocol::ErrorClass::device_not_found,
                                     cat("no process with pid ", pid));
    }
    return *reply;
}

json IntrospectionBackend::mshare_regions() {
    return regions_reply(report(false));
}

json IntrospectionBackend::accounting() {
    return accounting_reply(report(true));
}

}  // namespace mvmm::guest_services
