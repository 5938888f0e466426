// The control socket's introspection part (docs/control-protocol.md)
// answered by the Introspector: each command pauses the guest, walks its page
// tables, resumes it, and answers with its share of the accounting report.
// The accounting report adds the guest's own figures (PageTables, each
// process's VmPTE) when the guest agent answers.
//
//   IntrospectionBackend introspection(session.engine(), profile, agent_service.get());
//   backend.introspection = &introspection;   // in ControlService's Extend hook
#pragma once

#include <optional>
#include <string>

#include <mvmm/control/backend.hpp>
#include <mvmm/introspect/introspector.hpp>

namespace mvmm::guest_services {

class AgentService;

class IntrospectionBackend final : public control::IntrospectionControl {
  public:
    // `profile` may be empty (processes are then not known; the symbol-less
    // scan finds the tables). `agent` may be null.
    IntrospectionBackend(Engine& engine, std::optional<Profile> profile, AgentService* agent);

    nlohmann::json processes() override;
    // DeviceNotFound when no process has `pid`.
    nlohmann::json page_tables(std::uint64_t pid) override;
    nlohmann::json mshare_regions() override;
    nlohmann::json accounting() override;

    // The dirty log, classified by a walk (KVM engine): mark starts an
    // interval, collect returns the written pages with what each one is.
    // Throw CommandError(KVMMissingCap) on an engine without KVM.
    void dirty_mark();
    nlohmann::json dirty_collect();

    // The full report (docs/introspection.md). With `guest_figures`, the
    // agent's figures are collected first (if it answers).
    nlohmann::json report(bool guest_figures, bool scan = true);

  private:
    std::optional<GuestFigures> collect_guest_figures(std::string& why_not);
    void require_kvm() const;

    Engine& engine_;
    Introspector introspector_;
    AgentService* agent_;
    bool profile_checked_logged_ = false;
};

// The control socket's KVM part: statistics from the engine, the dirty log
// classified by the IntrospectionBackend. Both must outlive it.
class ClassifiedKvmControl final : public control::KvmControl {
  public:
    ClassifiedKvmControl(control::KvmControl& engine_part, IntrospectionBackend& introspection)
        : engine_part_(engine_part), introspection_(introspection) {}
    nlohmann::json statistics() override { return engine_part_.statistics(); }
    void dirty_log_mark() override { introspection_.dirty_mark(); }
    nlohmann::json dirty_log_collect() override { return introspection_.dirty_collect(); }

  private:
    control::KvmControl& engine_part_;
    IntrospectionBackend& introspection_;
};

}  // namespace mvmm::guest_services
