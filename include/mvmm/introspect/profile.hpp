// The introspection profile: symbol addresses, structure offsets and Kconfig
// facts of one guest-kernel build, written beside its vmlinux by the kernel
// build (docs/introspection-profile.md). The reader checks format, keys and
// types; GuestKernel checks that it belongs to the running guest.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace mvmm {

inline constexpr std::string_view kProfileFormat = "mshare-vmm-profile/1";

struct ProfileOffsets {
    std::uint64_t task_tasks = 0;
    std::uint64_t task_pid = 0;
    std::uint64_t task_tgid = 0;
    std::uint64_t task_comm = 0;
    std::uint64_t task_mm = 0;
    std::uint64_t mm_pgd = 0;
    std::uint64_t mm_pgtables_bytes = 0;
    std::uint64_t page_size = 0;  // sizeof(struct page)
    // Only kernels with CONFIG_MSHARE (or hugetlb PMD sharing) have the count.
    std::optional<std::uint64_t> ptdesc_share_count;
    // Optional: lets the reader tell a freed top-level table from a live one.
    std::optional<std::uint64_t> page_refcount;
};

struct Profile {
    std::string source;  // where it was read from, for messages
    std::string kernel_release;
    std::string build_id;  // lower-case hex
    std::string banner;
    std::map<std::string, std::uint64_t, std::less<>> symbols;
    ProfileOffsets offsets;
    std::map<std::string, bool, std::less<>> config;

    [[nodiscard]] std::optional<std::uint64_t> symbol(std::string_view name) const;
    // Throws Error naming the profile and the symbol if it is missing.
    [[nodiscard]] std::uint64_t require_symbol(std::string_view name) const;
    // False if the option is absent.
    [[nodiscard]] bool enabled(std::string_view option) const;

    // Reads and checks a profile file. Throws Error naming the file and, for
    // bad content, the key: "profile 'p.json': key 'offsets.task_struct.pid'
    // is missing".
    static Profile load(const std::filesystem::path& path);
    // The same for JSON already parsed; `source` names it in messages.
    static Profile parse(const nlohmann::json& doc, std::string_view source);
};

}  // namespace mvmm
