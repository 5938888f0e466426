#include <array>
#include <ctime>
#include <nlohmann/json.hpp>

#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/introspect/image_metadata.hpp>

namespace mvmm {
namespace {

std::uint64_t reg(const nlohmann::json& cpu, const char* name, std::string_view source) {
    const auto it = cpu.find(name);
    if (it == cpu.end() || !it->is_string()) {
        throw Error(cat("memory image ", quote(source), ": vCPU register ", quote(name),
                        " is missing or not a hex string"));
    }
    const auto text = it->get<std::string>();
    try {
        std::size_t used = 0;
        const auto value = std::stoull(text, &used, 16);
        if (used != text.size()) {
            throw std::invalid_argument(text);
        }
        return value;
    } catch (const std::exception&) {
        throw Error(cat("memory image ", quote(source), ": vCPU register ", quote(name), " = ",
                        quote(text), " is not hexadecimal"));
    }
}

}  // namespace

std::string utc_timestamp() {
    const auto now = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&now, &tm);
    std::array<char, 32> buf{};
    std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf.data();
}

std::string ImageMetadata::to_text() const {
    nlohmann::json doc;
    doc["format"] = kImageMetadataFormat;
    doc["engine"] = engine;
    doc["saved_at"] = saved_at;
    doc["paused"] = paused;
    auto cpus = nlohmann::json::array();
    for (const auto& r : vcpus) {
        cpus.push_back(
            {{"cr0", hex(r.cr0)}, {"cr3", hex(r.cr3)}, {"cr4", hex(r.cr4)}, {"efer", hex(r.efer)}});
    }
    doc["vcpus"] = cpus;
    if (guest) {
        doc["guest_figures"] = guest->to_json();
    }
    return doc.dump(2);
}

ImageMetadata ImageMetadata::parse(std::string_view text, std::string_view source) {
    ImageMetadata m;
    if (text.empty()) {
        m.paused = false;
        return m;
    }
    nlohmann::json doc;
    try {
        doc = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
        throw Error(cat("memory image ", quote(source), ": metadata is not JSON (", e.what(), ")"));
    }
    if (!doc.is_object() || doc.value("format", "") != kImageMetadataFormat) {
        throw Error(cat("memory image ", quote(source), ": metadata format is not ",
                        quote(kImageMetadataFormat)));
    }
    m.engine = doc.value("engine", "");
    m.saved_at = doc.value("saved_at", "");
    m.paused = doc.value("paused", false);
    if (const auto it = doc.find("vcpus"); it != doc.end()) {
        if (!it->is_array()) {
            throw Error(cat("memory image ", quote(source), ": 'vcpus' is not a list"));
        }
        for (const auto& cpu : *it) {
            if (!cpu.is_object()) {
                throw Error(cat("memory image ", quote(source), ": a vCPU entry is not an object"));
            }
            SpecialRegisters r;
            r.cr0 = reg(cpu, "cr0", source);
            r.cr3 = reg(cpu, "cr3", source);
            r.cr4 = reg(cpu, "cr4", source);
            r.efer = reg(cpu, "efer", source);
            m.vcpus.push_back(r);
        }
    }
    if (const auto it = doc.find("guest_figures"); it != doc.end() && !it->is_null()) {
        m.guest = GuestFigures::from_json(*it);
    }
    return m;
}

}  // namespace mvmm
