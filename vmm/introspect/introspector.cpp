#include <mvmm/common/error.hpp>
#include <mvmm/common/log.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/introspect/host_memory.hpp>
#include <mvmm/introspect/image_metadata.hpp>
#include <mvmm/introspect/introspector.hpp>

namespace mvmm {
namespace {

using nlohmann::json;

// A statistic's value wherever it sits in the statistics document: a number,
// or an object with a "value" member.
std::optional<std::uint64_t> find_stat(const json& doc, std::string_view name) {
    if (doc.is_object() && doc.value("name", "") == name && doc.contains("value") &&
        doc["value"].is_number()) {
        return doc["value"].get<std::uint64_t>();
    }
    if (doc.is_object()) {
        for (const auto& [key, value] : doc.items()) {
            if (key == name) {
                if (value.is_number_unsigned() || value.is_number_integer()) {
                    return value.get<std::uint64_t>();
                }
                if (value.is_object() && value.contains("value") && value["value"].is_number()) {
                    return value["value"].get<std::uint64_t>();
                }
            }
            if (const auto inner = find_stat(value, name)) {
                return inner;
            }
        }
    } else if (doc.is_array()) {
        for (const auto& v : doc) {
            if (const auto inner = find_stat(v, name)) {
                return inner;
            }
        }
    }
    return std::nullopt;
}

}  // namespace

PauseGuard::PauseGuard(Engine& engine, bool live) : engine_(engine) {
    was_paused_ = engine.state() == RunState::paused;
    if (!live && engine.state() == RunState::running) {
        engine.pause();
        paused_ = true;
    }
    held_.restart();
}

double PauseGuard::release() {
    if (paused_) {
        engine_.resume();
        paused_ = false;
        seconds_ = held_.seconds();
    }
    return seconds_;
}

PauseGuard::~PauseGuard() {
    try {
        release();
    } catch (const std::exception& e) {
        log::error("introspect", "resuming the guest after a walk failed: ", e.what());
    }
}

json kvm_section(Engine& engine) {
    KvmView* kvm = engine.kvm();
    if (kvm == nullptr) {
        auto reason = engine.kvm_absent_reason();
        if (reason.empty()) {
            reason = cat("the ", engine.name(), " engine has no KVM statistics or dirty log");
        }
        return {{"absent_reason", reason}};
    }
    json out;
    try {
        out["statistics"] = kvm->statistics();
    } catch (const Error& e) {
        out["statistics"] = nullptr;
        out["statistics_error"] = e.what();
        return out;
    }
    const auto p4k = find_stat(out["statistics"], "pages_4k");
    const auto p2m = find_stat(out["statistics"], "pages_2m");
    const auto p1g = find_stat(out["statistics"], "pages_1g");
    if (p4k || p2m || p1g) {
        out["second_level"] = {
            {"pages_4k", p4k.value_or(0)},
            {"pages_2m", p2m.value_or(0)},
            {"pages_1g", p1g.value_or(0)},
            {"implied_table_bytes",
             implied_table_bytes(p4k.value_or(0), p2m.value_or(0), p1g.value_or(0))}};
    } else {
        out["second_level"] = nullptr;
    }
    return out;
}

json host_section(const PhysView& memory) {
    json out;
    std::string why;
    const auto residency = host_residency(memory.backing(), why);
    if (residency) {
        out["guest_ram_bytes"] = residency->mapped_bytes;
        out["guest_ram_resident_bytes"] = residency->resident_bytes;
    } else {
        out["guest_ram_resident_bytes"] = nullptr;
        out["guest_ram_resident_absent_reason"] = why;
    }
    const auto pte = own_vm_pte_bytes();
    out["vmm_vm_pte_bytes"] = pte ? json(*pte) : json(nullptr);
    return out;
}

Introspector::Introspector(Engine& engine, std::optional<Profile> profile)
    : engine_(engine), profile_(std::move(profile)) {}

std::vector<SpecialRegisters> Introspector::registers(std::vector<std::string>& notes) {
    std::vector<SpecialRegisters> regs;
    for (unsigned i = 0; i < engine_.vcpu_count(); ++i) {
        try {
            regs.push_back(engine_.special_registers(i));
        } catch (const Error& e) {
            notes.push_back(cat("vCPU ", i, " registers: ", e.what()));
        }
    }
    return regs;
}

ProfileCheck Introspector::attach() {
    if (!profile_) {
        return {};
    }
    PauseGuard hold(engine_, false);
    std::vector<std::string> notes;
    const auto regs = registers(notes);
    walker::PagingMode mode = walker::PagingMode::four_level;
    for (const auto& r : regs) {
        if ((r.cr4 & walker::cr::kCr4La57) != 0) {
            mode = walker::PagingMode::five_level;
        }
    }
    const GuestKernel kernel(engine_.memory(), *profile_, mode);
    return kernel.verify();
}

json Introspector::report(const ReportRequest& request) {
    std::vector<std::string> notes;
    Analysis analysis;
    double pause_seconds = 0;
    bool was_paused = false;
    {
        PauseGuard hold(engine_, request.live);
        was_paused = hold.was_paused();
        AnalysisInput input;
        input.memory = &engine_.memory();
        input.vcpus = registers(notes);
        input.profile = profile_ ? &*profile_ : nullptr;
        // Guest RAM the guest never touched stays unallocated on the host.
        auto options = request.analysis;
        options.scan_resident_only = true;
        analysis = analyze(input, options);
        pause_seconds = hold.release();
    }
    analysis.notes.insert(analysis.notes.end(), notes.begin(), notes.end());
    auto out = accounting_json(analysis, request.guest ? &*request.guest : nullptr);
    std::string consistency = "paused";
    if (request.live && !was_paused) {
        consistency = "live";
    } else if (was_paused) {
        consistency = "already-paused";
    }
    out["source"] = {
        {"kind", "live"},
        {"engine", std::string(engine_.name())},
        {"consistency", consistency},
        {"pause_seconds", consistency == "paused" ? json(pause_seconds) : json(nullptr)}};
    out["host"] = host_section(engine_.memory());
    out["kvm"] = kvm_section(engine_);
    return out;
}

void Introspector::dirty_mark() {
    KvmView* kvm = engine_.kvm();
    if (kvm == nullptr) {
        throw Error(cat("dirty log: not available with the ", engine_.name(), " engine (",
                        engine_.kvm_absent_reason(), ")"));
    }
    kvm->dirty_log_mark();
    dirty_since_.emplace();
}

json Introspector::dirty_report(bool live) {
    KvmView* kvm = engine_.kvm();
    if (kvm == nullptr) {
        return {{"absent_reason", engine_.kvm_absent_reason()}};
    }
    if (!dirty_since_) {
        throw Error("dirty log: no mark set; mark first, then collect");
    }
    std::vector<std::string> notes;
    PauseGuard hold(engine_, live);
    const auto pfns = kvm->dirty_log_collect();
    AnalysisInput input;
    input.memory = &engine_.memory();
    input.vcpus = registers(notes);
    input.profile = profile_ ? &*profile_ : nullptr;
    AnalysisOptions opts;
    opts.leaf_bitmap = true;
    opts.scan_resident_only = true;
    Analysis analysis;
    try {
        analysis = analyze(input, opts);
    } catch (const Error& e) {
        // The pages were collected (and the log cleared): give them back
        // unclassified rather than lose them, e.g. before the guest kernel runs.
        const double pause = hold.release();
        dirty_since_.emplace();
        return {{"pages", pfns.size()},
                {"pfns", pfns},
                {"classification_error", e.what()},
                {"pause_seconds", pause},
                {"notes", notes}};
    }
    const double pause = hold.release();

    walker::PerLevel tables{};
    walker::PerLevel kernel_tables{};
    std::uint64_t data = 0;
    std::uint64_t other = 0;
    for (const auto pfn : pfns) {
        const auto phys = pfn * kPageSize;
        if (const auto node = analysis.walk.find(phys)) {
            ++tables[analysis.walk.nodes()[*node].level];
        } else if (analysis.kernel_walk && analysis.kernel_walk->find(phys)) {
            ++kernel_tables[analysis.kernel_walk->nodes()[*analysis.kernel_walk->find(phys)].level];
        } else if (analysis.walk.leaf_maps(phys)) {
            ++data;
        } else {
            ++other;
        }
    }
    const auto levels = [&](const walker::PerLevel& c) {
        json o = json::object();
        std::uint64_t total = 0;
        for (int l = walker::top_level(analysis.mode); l >= 1; --l) {
            o[std::string(walker::level_name(l, analysis.mode))] = c[static_cast<std::size_t>(l)];
            total += c[static_cast<std::size_t>(l)];
        }
        o["total"] = total;
        return o;
    };
    json out{{"pages", pfns.size()},
             {"pfns", pfns},
             {"interval_seconds", dirty_since_->seconds()},
             {"page_table", levels(tables)},
             {"kernel_page_table", levels(kernel_tables)},
             {"user_data", data},
             {"other", other},
             {"pause_seconds", pause},
             {"notes", notes}};
    dirty_since_.emplace();
    return out;
}

void Introspector::save_image(const std::filesystem::path& path, const GuestFigures* guest,
                              const ImageProgress& progress) {
    PauseGuard hold(engine_, false);
    std::vector<std::string> notes;
    ImageMetadata meta;
    meta.engine = std::string(engine_.name());
    meta.saved_at = utc_timestamp();
    meta.paused = hold.paused_by_us() || hold.was_paused();
    meta.vcpus = registers(notes);
    if (guest != nullptr) {
        meta.guest = *guest;
    }
    for (const auto& n : notes) {
        log::warn("introspect", "saving ", quote(path.string()), ": ", n);
    }
    write_memory_image(path, engine_.memory(), meta.to_text(), progress);
}

}  // namespace mvmm
