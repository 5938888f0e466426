#include <cerrno>
#include <fstream>
#include <sstream>
#include <vector>

#include <sys/mman.h>
#include <unistd.h>

#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/introspect/guest_figures.hpp>
#include <mvmm/introspect/host_memory.hpp>

namespace mvmm {

std::optional<HostResidency> host_residency(std::span<const std::byte> mapping, std::string& why) {
    const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    const auto base = reinterpret_cast<std::uintptr_t>(mapping.data());
    if (mapping.empty() || base % page != 0) {
        why = "the guest RAM mapping is empty or not page aligned";
        return std::nullopt;
    }
    HostResidency out;
    out.mapped_bytes = mapping.size();
    constexpr std::uint64_t kChunk = 1ULL << 30;
    std::vector<unsigned char> vec;
    for (std::uint64_t off = 0; off < mapping.size(); off += kChunk) {
        const auto len = std::min<std::uint64_t>(kChunk, mapping.size() - off);
        vec.assign((len + page - 1) / page, 0);
        // mincore takes a non-const pointer but does not write through it.
        auto* addr = const_cast<std::byte*>(mapping.data() + off);
        if (::mincore(addr, len, vec.data()) != 0) {
            why = cat("mincore on the guest RAM mapping: ", errno_text(errno));
            return std::nullopt;
        }
        for (const auto v : vec) {
            out.resident_bytes += (v & 1) != 0 ? page : 0;
        }
    }
    return out;
}

std::optional<std::uint64_t> own_vm_pte_bytes() {
    std::ifstream in("/proc/self/status");
    if (!in) {
        return std::nullopt;
    }
    std::ostringstream text;
    text << in.rdbuf();
    return GuestFigures::parse_status_vm_pte(text.str());
}

}  // namespace mvmm
