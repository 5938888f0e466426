#include <algorithm>
#include <array>
#include <cstring>

#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/introspect/guest_kernel.hpp>
#include <mvmm/walker/walker.hpp>

namespace mvmm {
namespace {

constexpr std::string_view kBannerPrefix = "Linux version ";
// CONFIG_PHYSICAL_ALIGN is at least 2 MiB on x86-64.
constexpr std::uint64_t kPhysAlign = 2 * kMiB;
constexpr std::uint32_t kNoteGnuBuildId = 3;

// Fixed bases of kernels without CONFIG_DYNAMIC_MEMORY_LAYOUT.
constexpr std::uint64_t kPageOffsetL4 = 0xffff'8880'0000'0000ULL;
constexpr std::uint64_t kPageOffsetL5 = 0xff11'0000'0000'0000ULL;
constexpr std::uint64_t kVmemmapL4 = 0xffff'ea00'0000'0000ULL;
constexpr std::uint64_t kVmemmapL5 = 0xffd4'0000'0000'0000ULL;

bool has_prefix_at(const PhysView& memory, std::uint64_t gpa, std::string_view prefix) {
    std::array<char, 32> buf{};
    if (prefix.size() > buf.size() ||
        !memory.read(gpa, std::as_writable_bytes(std::span(buf.data(), prefix.size())))) {
        return false;
    }
    return std::string_view(buf.data(), prefix.size()) == prefix;
}

std::string printable_line(std::string_view text) {
    std::string out;
    for (const char c : text) {
        if (c == '\n' || c == '\0') {
            break;
        }
        out += c;
    }
    return out;
}

std::string to_hex(std::span<const std::byte> bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (const auto b : bytes) {
        const auto v = std::to_integer<unsigned>(b);
        out += digits[v >> 4];
        out += digits[v & 15];
    }
    return out;
}

}  // namespace

std::string find_banner_in_ram(const PhysView& memory) {
    for (const auto& r : memory.layout().ranges()) {
        const auto bytes = memory.span(r.gpa, r.size);
        const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
        auto pos = text.find(kBannerPrefix);
        while (pos != std::string_view::npos) {
            // A real banner continues with a release such as "6.12.117".
            const auto rest = text.substr(pos + kBannerPrefix.size(), 200);
            if (!rest.empty() && rest[0] >= '0' && rest[0] <= '9') {
                return printable_line(text.substr(pos, 300));
            }
            pos = text.find(kBannerPrefix, pos + 1);
        }
    }
    return "";
}

GuestKernel::GuestKernel(const PhysView& memory, const Profile& profile, walker::PagingMode mode)
    : memory_(memory), profile_(profile), mode_(mode) {
    const auto banner_va = profile_.require_symbol("linux_banner");
    const auto phys_base_va = profile_.require_symbol("phys_base");
    if (banner_va < kStartKernelMap || phys_base_va < kStartKernelMap) {
        throw Error(cat("profile ", quote(profile_.source),
                        ": linux_banner and phys_base must be kernel image addresses (>= ",
                        hex(kStartKernelMap), ")"));
    }
    bool found = false;
    for (std::uint64_t p = 0; p < memory.layout().end_gpa(); p += kPhysAlign) {
        const auto value = memory.read_as<std::uint64_t>(phys_base_va - kStartKernelMap + p);
        if (value && *value == p &&
            has_prefix_at(memory, banner_va - kStartKernelMap + p, kBannerPrefix)) {
            phys_base_ = p;
            found = true;
            break;
        }
    }
    if (!found) {
        const auto guest = find_banner_in_ram(memory);
        throw Error(cat("profile ", quote(profile_.source),
                        " does not match the running guest: no kernel banner at linux_banner (",
                        hex(banner_va), ") for any load address; profile banner ",
                        quote(printable_line(profile_.banner)), ", guest ",
                        guest.empty() ? std::string("has no Linux banner in RAM (not booted?)")
                                      : cat("banner ", quote(guest))));
    }

    const bool l5 = mode == walker::PagingMode::five_level;
    const auto layout_var = [&](std::string_view name, std::uint64_t fixed) {
        if (const auto sym = profile_.symbol(name)) {
            const auto value = memory.read_as<std::uint64_t>(image_to_phys(*sym));
            if (!value) {
                throw Error(cat("profile ", quote(profile_.source), ": ", name, " at ", hex(*sym),
                                " is not in guest RAM"));
            }
            return *value;
        }
        if (profile_.enabled("CONFIG_RANDOMIZE_MEMORY") || profile_.enabled("CONFIG_X86_5LEVEL")) {
            throw Error(cat("profile ", quote(profile_.source), ": symbol ", quote(name),
                            " is missing, but the kernel's memory layout is dynamic"));
        }
        return fixed;
    };
    page_offset_ = layout_var("page_offset_base", l5 ? kPageOffsetL5 : kPageOffsetL4);
    vmemmap_base_ = layout_var("vmemmap_base", l5 ? kVmemmapL5 : kVmemmapL4);
    kernel_root_ = image_to_phys(profile_.require_symbol("init_top_pgt"));
}

std::optional<std::uint64_t> GuestKernel::to_phys(std::uint64_t va) const noexcept {
    if (va >= kStartKernelMap) {
        return image_to_phys(va);
    }
    const std::uint64_t direct_span =
        mode_ == walker::PagingMode::five_level ? (1ULL << 52) : (1ULL << 46);
    if (va >= page_offset_ && va - page_offset_ < direct_span) {
        return va - page_offset_;
    }
    const auto t = walker::translate(memory_, kernel_root_, va, mode_);
    if (!t) {
        return std::nullopt;
    }
    return t->phys;
}

bool GuestKernel::read(std::uint64_t va, std::span<std::byte> out) const noexcept {
    std::size_t done = 0;
    while (done < out.size()) {
        const auto addr = va + done;
        const auto in_page = kPageSize - (addr % kPageSize);
        const auto chunk = std::min<std::uint64_t>(in_page, out.size() - done);
        const auto pa = to_phys(addr);
        if (!pa || !memory_.read(*pa, out.subspan(done, chunk))) {
            return false;
        }
        done += chunk;
    }
    return true;
}

std::string GuestKernel::read_string(std::uint64_t va, std::size_t max) const {
    std::string out;
    std::array<char, 64> buf{};
    while (out.size() < max) {
        const auto want = std::min<std::size_t>(buf.size(), max - out.size());
        // Read up to the end of the page at most, so a string that ends just
        // before unmapped memory is still read.
        const auto in_page = kPageSize - ((va + out.size()) % kPageSize);
        const auto n = std::min<std::size_t>(want, in_page);
        if (!read(va + out.size(), std::as_writable_bytes(std::span(buf.data(), n)))) {
            break;
        }
        const auto end = std::find(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n), '\0');
        out.append(buf.begin(), end);
        if (end != buf.begin() + static_cast<std::ptrdiff_t>(n)) {
            break;
        }
    }
    return out;
}

std::optional<std::string> GuestKernel::guest_build_id() const {
    const auto start = profile_.symbol("__start_notes");
    const auto stop = profile_.symbol("__stop_notes");
    if (!start || !stop || *stop <= *start || *stop - *start > 64 * 1024) {
        return std::nullopt;
    }
    std::vector<std::byte> notes(*stop - *start);
    if (!read(*start, notes)) {
        return std::string();
    }
    std::size_t at = 0;
    const auto align4 = [](std::size_t v) { return (v + 3) & ~std::size_t{3}; };
    while (at + 12 <= notes.size()) {
        std::uint32_t namesz = 0;
        std::uint32_t descsz = 0;
        std::uint32_t type = 0;
        std::memcpy(&namesz, &notes[at], 4);
        std::memcpy(&descsz, &notes[at + 4], 4);
        std::memcpy(&type, &notes[at + 8], 4);
        const auto name_at = at + 12;
        const auto desc_at = name_at + align4(namesz);
        const auto next = desc_at + align4(descsz);
        if (namesz > notes.size() || descsz > notes.size() || next > notes.size()) {
            break;
        }
        if (type == kNoteGnuBuildId && namesz == 4 && std::memcmp(&notes[name_at], "GNU", 4) == 0) {
            return to_hex(std::span(notes).subspan(desc_at, descsz));
        }
        at = next;
    }
    return std::string();
}

ProfileCheck GuestKernel::verify() const {
    ProfileCheck check;
    check.guest_banner =
        read_string(profile_.require_symbol("linux_banner"), profile_.banner.size() + 256);
    if (const auto id = guest_build_id()) {
        check.guest_build_id = *id;
        if (id->empty()) {
            throw Error(cat("profile ", quote(profile_.source),
                            " does not match the running guest: no build-id note between "
                            "__start_notes and __stop_notes in guest memory (profile build id ",
                            profile_.build_id, ")"));
        }
        if (*id != profile_.build_id) {
            throw Error(cat("profile ", quote(profile_.source),
                            " does not match the running guest: profile build id ",
                            profile_.build_id, ", guest build id ", *id));
        }
        check.build_id_checked = true;
    }
    if (check.guest_banner != profile_.banner) {
        throw Error(cat("profile ", quote(profile_.source),
                        " does not match the running guest: profile banner ",
                        quote(printable_line(profile_.banner)), ", guest banner ",
                        quote(printable_line(check.guest_banner))));
    }
    check.banner_checked = true;
    return check;
}

std::optional<std::int32_t> GuestKernel::share_count(std::uint64_t table_phys) const {
    if (!profile_.offsets.ptdesc_share_count) {
        return std::nullopt;
    }
    const auto va = vmemmap_base_ + (table_phys / kPageSize) * profile_.offsets.page_size +
                    *profile_.offsets.ptdesc_share_count;
    return read_as<std::int32_t>(va);
}

std::optional<std::int32_t> GuestKernel::page_refcount(std::uint64_t phys) const {
    if (!profile_.offsets.page_refcount) {
        return std::nullopt;
    }
    const auto va = vmemmap_base_ + (phys / kPageSize) * profile_.offsets.page_size +
                    *profile_.offsets.page_refcount;
    return read_as<std::int32_t>(va);
}

}  // namespace mvmm
