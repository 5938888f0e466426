// What the guest costs on the host side: how much of its RAM is resident, and
// the page tables of the VMM process itself.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace mvmm {

struct HostResidency {
    std::uint64_t resident_bytes = 0;
    std::uint64_t mapped_bytes = 0;
};

// mincore() over a mapping of guest RAM (page-aligned). For a shared file or
// memfd mapping this is the RAM resident in the page cache, whoever maps it.
// Returns nothing and sets `why` if mincore fails.
std::optional<HostResidency> host_residency(std::span<const std::byte> mapping, std::string& why);

// VmPTE of this process, from /proc/self/status, in bytes.
std::optional<std::uint64_t> own_vm_pte_bytes();

}  // namespace mvmm
