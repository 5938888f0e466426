// Introspection of a running guest through the Engine interface: pause,
// read registers, analyse guest memory, resume; host-side figures; the KVM
// statistics and dirty log where the engine has them. The control socket and
// scenarios call this; offline analysis of a saved image uses analyze() and
// accounting_json() directly (see vmm/app/inspect.cpp).
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

#include <mvmm/common/clock.hpp>
#include <mvmm/engine/engine.hpp>
#include <mvmm/introspect/accounting.hpp>
#include <mvmm/introspect/analysis.hpp>
#include <mvmm/introspect/guest_figures.hpp>
#include <mvmm/introspect/profile.hpp>
#include <mvmm/memory/memory_image.hpp>

namespace mvmm {

struct ReportRequest {
    // Walk without pausing the vCPUs. The report says so: tables may change
    // under the walk, so counts can be off by what the guest did meanwhile.
    bool live = false;
    AnalysisOptions analysis;
    std::optional<GuestFigures> guest;  // from the guest agent, if the caller has them
};

class Introspector {
  public:
    // `profile` may be empty: then processes are not named and the
    // symbol-less root scan finds the tables.
    Introspector(Engine& engine, std::optional<Profile> profile);

    // Checks the profile against the running guest (pausing briefly). Throws
    // Error on a mismatch; without a profile it returns an empty check.
    ProfileCheck attach();

    // The full accounting report of the guest as it is now.
    nlohmann::json report(const ReportRequest& request);

    // Starts a dirty-log interval. Throws Error if the engine has no KVM view.
    void dirty_mark();
    // The pages written since the mark (`pfns`, ascending as the engine gives
    // them), each classified with a fresh walk as a page table (by level),
    // user data (mapped by a walked leaf) or other; then starts a new interval.
    nlohmann::json dirty_report(bool live = false);

    // Saves guest RAM, the vCPUs' paging registers and `guest` figures to an
    // image file, pausing the guest while it is written.
    void save_image(const std::filesystem::path& path, const GuestFigures* guest,
                    const ImageProgress& progress = {});

  private:
    std::vector<SpecialRegisters> registers(std::vector<std::string>& notes);

    Engine& engine_;
    std::optional<Profile> profile_;
    std::optional<Stopwatch> dirty_since_;
};

// Pauses an engine for the lifetime of the guard unless it is already paused
// (or `live`); resumes what it paused. Measures how long the guest was held.
class PauseGuard {
  public:
    PauseGuard(Engine& engine, bool live);
    PauseGuard(const PauseGuard&) = delete;
    PauseGuard& operator=(const PauseGuard&) = delete;
    ~PauseGuard();
    // Resumes now (if this guard paused) and returns the pause length in seconds.
    double release();
    [[nodiscard]] bool paused_by_us() const noexcept { return paused_; }
    [[nodiscard]] bool was_paused() const noexcept { return was_paused_; }

  private:
    Engine& engine_;
    bool paused_ = false;
    bool was_paused_ = false;
    Stopwatch held_;
    double seconds_ = 0;
};

// The "kvm" section of a report: statistics, leaf page counts with the
// second-level table bytes they imply, or why it is absent.
nlohmann::json kvm_section(Engine& engine);
// The "host" section: guest RAM resident on the host and the VMM's VmPTE.
nlohmann::json host_section(const PhysView& memory);

}  // namespace mvmm
