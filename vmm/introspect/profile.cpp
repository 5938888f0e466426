#include <cctype>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/introspect/profile.hpp>

namespace mvmm {
namespace {

// Symbols every profile must carry. page_offset_base and vmemmap_base exist
// only in kernels with a dynamic memory layout (5-level paging or KASLR of
// the memory regions); without it the reader uses the fixed bases.
constexpr std::string_view kRequiredSymbols[] = {"init_task", "init_top_pgt", "phys_base",
                                                 "linux_banner"};

class Checker {
  public:
    explicit Checker(std::string_view source) : source_(source) {}

    [[noreturn]] void fail(std::string_view key, std::string_view why) const {
        throw Error(cat("profile ", quote(source_), ": key ", quote(key), " ", why));
    }

    const nlohmann::json& member(const nlohmann::json& obj, std::string_view key,
                                 std::string_view path) const {
        const auto it = obj.find(key);
        if (it == obj.end()) {
            fail(path, "is missing");
        }
        return *it;
    }

    std::string string(const nlohmann::json& obj, std::string_view key) const {
        const auto& v = member(obj, key, key);
        if (!v.is_string()) {
            fail(key, cat("must be a string, not ", v.type_name()));
        }
        return v.get<std::string>();
    }

    const nlohmann::json& object(const nlohmann::json& obj, std::string_view key) const {
        const auto& v = member(obj, key, key);
        if (!v.is_object()) {
            fail(key, cat("must be an object, not ", v.type_name()));
        }
        return v;
    }

    std::uint64_t address(const nlohmann::json& v, std::string_view path) const {
        if (!v.is_string()) {
            fail(path,
                 cat("must be a hex string such as \"0xffffffff82a0c940\", not ", v.type_name()));
        }
        const auto text = v.get<std::string>();
        if (text.size() < 3 || text.size() > 18 || text[0] != '0' ||
            (text[1] != 'x' && text[1] != 'X')) {
            fail(path,
                 cat("must be a hex string such as \"0xffffffff82a0c940\", not ", quote(text)));
        }
        std::uint64_t value = 0;
        for (std::size_t i = 2; i < text.size(); ++i) {
            const auto c = static_cast<unsigned char>(text[i]);
            if (std::isxdigit(c) == 0) {
                fail(path, cat("is not hexadecimal: ", quote(text)));
            }
            const auto digit = std::isdigit(c) != 0 ? c - '0' : (std::tolower(c) - 'a' + 10);
            value = (value << 4) | static_cast<std::uint64_t>(digit);
        }
        return value;
    }

    std::uint64_t offset(const nlohmann::json& v, std::string_view path) const {
        if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<std::int64_t>() >= 0)) {
            fail(path, cat("must be a non-negative integer, not ", v.type_name()));
        }
        const auto value = v.get<std::uint64_t>();
        if (value > 1U << 20) {
            fail(path, cat("is implausibly large (", value, ")"));
        }
        return value;
    }

  private:
    std::string source_;
};

}  // namespace

std::optional<std::uint64_t> Profile::symbol(std::string_view name) const {
    const auto it = symbols.find(name);
    if (it == symbols.end()) {
        return std::nullopt;
    }
    return it->second;
}

std::uint64_t Profile::require_symbol(std::string_view name) const {
    const auto value = symbol(name);
    if (!value) {
        throw Error(cat("profile ", quote(source), ": symbol ", quote(name), " is missing"));
    }
    return *value;
}

bool Profile::enabled(std::string_view option) const {
    const auto it = config.find(option);
    return it != config.end() && it->second;
}

Profile Profile::parse(const nlohmann::json& doc, std::string_view source) {
    const Checker check(source);
    if (!doc.is_object()) {
        throw Error(cat("profile ", quote(source), ": not a JSON object"));
    }
    Profile p;
    p.source = std::string(source);
    const auto format = check.string(doc, "format");
    if (format != kProfileFormat) {
        check.fail("format",
                   cat("is ", quote(format), "; this build reads ", quote(kProfileFormat)));
    }
    p.kernel_release = check.string(doc, "kernel_release");
    p.build_id = check.string(doc, "build_id");
    for (auto& c : p.build_id) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (p.build_id.empty() || p.build_id.size() % 2 != 0 ||
        p.build_id.find_first_not_of("0123456789abcdef") != std::string::npos) {
        check.fail("build_id", cat("is not a hex string: ", quote(p.build_id)));
    }
    p.banner = check.string(doc, "banner");
    if (!starts_with(p.banner, "Linux version ")) {
        check.fail("banner", cat("does not start with 'Linux version ': ", quote(p.banner)));
    }

    const auto& symbols = check.object(doc, "symbols");
    for (const auto& [name, value] : symbols.items()) {
        p.symbols[name] = check.address(value, cat("symbols.", name));
    }
    for (const auto name : kRequiredSymbols) {
        if (!p.symbol(name)) {
            check.fail(cat("symbols.", name), "is missing");
        }
    }

    const auto& offsets = check.object(doc, "offsets");
    const auto need = [&](std::string_view key) {
        return check.offset(check.member(offsets, key, cat("offsets.", key)), cat("offsets.", key));
    };
    const auto maybe = [&](std::string_view key) -> std::optional<std::uint64_t> {
        const auto it = offsets.find(key);
        if (it == offsets.end()) {
            return std::nullopt;
        }
        return check.offset(*it, cat("offsets.", key));
    };
    p.offsets.task_tasks = need("task_struct.tasks");
    p.offsets.task_pid = need("task_struct.pid");
    p.offsets.task_tgid = need("task_struct.tgid");
    p.offsets.task_comm = need("task_struct.comm");
    p.offsets.task_mm = need("task_struct.mm");
    p.offsets.mm_pgd = need("mm_struct.pgd");
    p.offsets.mm_pgtables_bytes = need("mm_struct.pgtables_bytes");
    p.offsets.page_size = need("page.size");
    p.offsets.ptdesc_share_count = maybe("ptdesc.pt_share_count");
    p.offsets.page_refcount = maybe("page._refcount");
    if (p.offsets.page_size < 32 || p.offsets.page_size > 256) {
        check.fail("offsets.page.size",
                   cat("is not a plausible sizeof(struct page): ", p.offsets.page_size));
    }

    const auto& config = check.object(doc, "config");
    for (const auto& [name, value] : config.items()) {
        if (!value.is_boolean()) {
            check.fail(cat("config.", name), cat("must be true or false, not ", value.type_name()));
        }
        p.config[name] = value.get<bool>();
    }
    if (p.enabled("CONFIG_MSHARE") && !p.offsets.ptdesc_share_count) {
        check.fail("offsets.ptdesc.pt_share_count", "is missing, but CONFIG_MSHARE is enabled");
    }
    return p;
}

Profile Profile::load(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw_errno(cat("profile ", quote(path.string())));
    }
    std::ostringstream text;
    text << in.rdbuf();
    nlohmann::json doc;
    try {
        doc = nlohmann::json::parse(text.str());
    } catch (const nlohmann::json::parse_error& e) {
        throw Error(cat("profile ", quote(path.string()), ": not valid JSON (", e.what(), ")"));
    }
    return parse(doc, path.string());
}

}  // namespace mvmm
