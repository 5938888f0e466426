#include "inspect.hpp"

#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>

#include <mvmm/common/error.hpp>
#include <mvmm/common/log.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/introspect/accounting.hpp>
#include <mvmm/introspect/analysis.hpp>
#include <mvmm/introspect/image_metadata.hpp>
#include <mvmm/memory/memory_image.hpp>

namespace mvmm::app {
namespace {

struct InspectArgs {
    std::string image;
    std::string profile;
    std::string guest_figures;
    std::string output;
    std::string paging = "auto";
    std::string pti = "auto";
    std::string cr3;
    std::uint64_t raw_size = 0;
    bool no_scan = false;
    bool summary = false;
};

std::uint64_t parse_hex(const std::string& text, const char* what) {
    try {
        std::size_t used = 0;
        const auto v = std::stoull(text, &used, 16);
        if (used == text.size()) {
            return v;
        }
    } catch (const std::exception&) {
    }
    throw Error(cat(what, " ", quote(text), " is not a hexadecimal number"));
}

nlohmann::json read_json_file(const std::string& path, const char* what) {
    std::ifstream in(path);
    if (!in) {
        throw_errno(cat(what, " ", quote(path)));
    }
    std::ostringstream text;
    text << in.rdbuf();
    try {
        return nlohmann::json::parse(text.str());
    } catch (const nlohmann::json::parse_error& e) {
        throw Error(cat(what, " ", quote(path), ": not valid JSON (", e.what(), ")"));
    }
}

std::string levels_text(const nlohmann::json& per_level) {
    std::string out;
    for (const auto& [k, v] : per_level.items()) {
        if (k == "total") {
            continue;
        }
        out += cat(out.empty() ? "" : ", ", k, " ", human_bytes(v.get<std::uint64_t>()));
    }
    return out;
}

void print_summary(const nlohmann::json& r, std::ostream& out) {
    const auto& t = r["totals"];
    out << "guest: " << r["guest"]["paging"].get<std::string>() << " paging"
        << (r["guest"]["pti"].get<bool>() ? ", PTI" : "") << "; roots from "
        << r["roots"]["source"].get<std::string>() << "\n";
    if (r["processes"].is_array()) {
        out << "processes: " << r["processes"].size() << " (tasks " << r["task_list"]["tasks"]
            << ", kernel threads " << r["task_list"]["kernel_threads"] << ")\n";
    }
    out << "top-level tables walked: " << r["roots"]["walked"] << " (unowned "
        << r["roots"]["unowned"] << ", unknown owner " << r["roots"]["unknown"] << ")\n";
    out << "page tables (unique): "
        << human_bytes(t["unique_table_bytes"]["total"].get<std::uint64_t>()) << " ["
        << levels_text(t["unique_table_bytes"]) << "]\n";
    out << "without sharing: " << human_bytes(t["bytes_without_sharing"].get<std::uint64_t>())
        << "; saved " << human_bytes(t["savings_bytes"].get<std::uint64_t>()) << " ("
        << t["savings_ratio"].get<double>() << "x)\n";
    if (!t["guest_page_tables_bytes"].is_null()) {
        out << "guest PageTables: "
            << human_bytes(t["guest_page_tables_bytes"].get<std::uint64_t>()) << " vs walked "
            << human_bytes(t["page_tables_comparable_bytes"].get<std::uint64_t>())
            << " (within tolerance: " << (t["tolerance"]["within"].get<bool>() ? "yes" : "no")
            << ")\n";
    }
    for (const auto& p : r["mshare"]["shared_puds"]) {
        out << "shared PUD " << p["table"].get<std::string>() << ": sharers " << p["sharers"].dump()
            << ", host " << p["host_roots"].dump() << ", share count "
            << (p["share_count"].is_null() ? std::string("?") : p["share_count"].dump()) << " vs "
            << p["linked_task_roots"] << " linked: " << p["status"].get<std::string>() << "; "
            << human_bytes(p["below"]["mapped_bytes"].get<std::uint64_t>()) << " mapped below\n";
    }
    if (r["mshare"]["shared_puds"].empty()) {
        out << "shared PUDs: none\n";
    }
    out << "anomalies: " << r["anomalies"]["total"] << "\n";
    out << "walk: " << r["walk"]["seconds"].get<double>() * 1000.0 << " ms, "
        << r["walk"]["table_pages"] << " table pages\n";
}

void run_inspect(const InspectArgs& args) {
    std::unique_ptr<MemoryImage> image;
    std::optional<MappedPhysMemory> raw;
    const PhysView* view = nullptr;
    ImageMetadata meta;
    if (args.raw_size != 0) {
        raw.emplace(args.image, RamLayout::x86_standard(args.raw_size));
        view = &raw->view();
    } else {
        if (!MemoryImage::looks_like_image(args.image)) {
            throw Error(
                cat("memory image ", quote(args.image),
                    ": not a mshare-vmm memory image (for a raw RAM file give --raw-size)"));
        }
        image = std::make_unique<MemoryImage>(args.image);
        meta = ImageMetadata::parse(image->metadata(), args.image);
        view = &image->view();
    }

    std::optional<Profile> profile;
    if (!args.profile.empty()) {
        profile = Profile::load(args.profile);
    }
    std::optional<GuestFigures> guest = meta.guest;
    if (!args.guest_figures.empty()) {
        guest = GuestFigures::from_json(read_json_file(args.guest_figures, "guest figures"));
    }

    AnalysisInput in;
    in.memory = view;
    in.vcpus = meta.vcpus;
    in.profile = profile ? &*profile : nullptr;
    if (!args.cr3.empty()) {
        SpecialRegisters r;
        r.cr0 = walker::cr::kCr0Paging;
        r.efer = walker::cr::kEferLma;
        r.cr3 = parse_hex(args.cr3, "--cr3");
        r.cr4 = args.paging == "5" ? walker::cr::kCr4La57 : 0;
        // The given CR3 comes first: analyze() uses the first vCPU in long mode.
        in.vcpus.assign(1, r);
        for (const auto& v : meta.vcpus) {
            in.vcpus.push_back(v);
        }
    }
    AnalysisOptions opts;
    if (args.paging == "4") {
        opts.mode = walker::PagingMode::four_level;
    } else if (args.paging == "5") {
        opts.mode = walker::PagingMode::five_level;
    }
    if (args.pti != "auto") {
        opts.pti = args.pti == "on";
    }
    opts.scan = !args.no_scan;

    log::info("inspect", "analysing ", quote(args.image));
    const auto analysis = analyze(in, opts);
    auto report = accounting_json(analysis, guest ? &*guest : nullptr);
    report["source"] = {
        {"kind", "image"},
        {"image", args.image},
        {"engine", meta.engine.empty() ? nlohmann::json(nullptr) : nlohmann::json(meta.engine)},
        {"saved_at", meta.saved_at},
        {"consistency", meta.paused ? "paused" : "unknown"},
        {"pause_seconds", nullptr}};
    report["host"] = {
        {"absent_reason", "offline image: host-side figures belong to the running VMM"}};
    report["kvm"] = {
        {"absent_reason", "offline image: KVM statistics and dirty logs are live only"}};

    std::ostringstream text;
    if (args.summary) {
        print_summary(report, text);
    } else {
        text << report.dump(2) << "\n";
    }
    if (args.output.empty()) {
        std::cout << text.str();
    } else {
        std::ofstream out(args.output);
        if (!out || !(out << text.str())) {
            throw_errno(cat("report ", quote(args.output)));
        }
    }
}

}  // namespace

void add_inspect_command(CLI::App& app) {
    auto args = std::make_shared<InspectArgs>();
    auto* cmd = app.add_subcommand(
        "inspect",
        "Analyse the page tables in a saved guest memory image (JSON accounting report)");
    cmd->add_option("image", args->image, "Memory image saved by the VMM (or a raw RAM file)")
        ->required();
    cmd->add_option("--profile", args->profile,
                    "Introspection profile of the guest kernel (out/kernel/profile.json)");
    cmd->add_option("--guest-figures", args->guest_figures,
                    "JSON with the guest's own PageTables and VmPTE figures");
    cmd->add_option("--paging", args->paging, "Paging mode: auto, 4 or 5")
        ->check(CLI::IsMember({"auto", "4", "5"}));
    cmd->add_option("--pti", args->pti, "Page-table isolation pairs: auto, on or off")
        ->check(CLI::IsMember({"auto", "on", "off"}));
    cmd->add_option("--cr3", args->cr3, "Kernel CR3 (hex) for images without vCPU registers");
    cmd->add_option("--raw-size", args->raw_size,
                    "The image is a raw RAM file of this many bytes (RAM above 3 GiB at 4 GiB)");
    cmd->add_flag("--no-scan", args->no_scan, "Do not scan RAM for top-level tables");
    cmd->add_flag("--summary", args->summary, "Print a short human-readable summary, not JSON");
    cmd->add_option("-o,--output", args->output, "Write the report to this file");
    cmd->callback([args] { run_inspect(*args); });
}

}  // namespace mvmm::app
