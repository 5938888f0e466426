// The metadata the VMM stores in a saved memory image (JSON): which engine
// ran the guest, whether it was paused, the vCPUs' paging registers, and
// optionally the guest's own figures taken at the same time.
//
//   {"format": "mshare-vmm-image/1", "engine": "qemu", "saved_at": "...",
//    "paused": true,
//    "vcpus": [{"cr0": "0x80050033", "cr3": "0x2a0e000", "cr4": "0x3606f0", "efer": "0xd01"}],
//    "guest_figures": {...}}
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <mvmm/engine/engine.hpp>
#include <mvmm/introspect/guest_figures.hpp>

namespace mvmm {

inline constexpr std::string_view kImageMetadataFormat = "mshare-vmm-image/1";

struct ImageMetadata {
    std::string engine;    // "kvm", "qemu", "synthetic", ...
    std::string saved_at;  // ISO 8601, UTC
    bool paused = true;
    std::vector<SpecialRegisters> vcpus;
    std::optional<GuestFigures> guest;

    [[nodiscard]] std::string to_text() const;
    // Empty text gives empty metadata (images from elsewhere). Throws Error
    // naming `source` for text that is not this format.
    static ImageMetadata parse(std::string_view text, std::string_view source);
};

// "2026-11-25T19:36:10Z".
std::string utc_timestamp();

}  // namespace mvmm
