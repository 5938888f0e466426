// A saved guest memory image: guest RAM and its layout in one file, plus a
// free-form metadata blob (the introspection code stores the vCPU registers
// and facts about the guest there as JSON).
//
// File format (little-endian, version 1):
//
//   offset  size  field
//   0       8     magic "MVMMIMG\n"
//   8       4     version (1)
//   12      4     number of RAM ranges, N (1..kMaxImageRanges)
//   16      8     metadata offset in the file
//   24      8     metadata size in bytes (<= kMaxImageMetadata)
//   32      8     data offset: where the first range's bytes start (page aligned)
//   40      24*N  ranges: guest-physical address, size, file offset (all page aligned)
//   ...           metadata bytes
//   data offset   the ranges' bytes; all-zero pages are holes in a sparse file
//
// Reading maps the file read-only and gives a PhysView over it, the same type
// the engines give, so the walker cannot tell an image from a running guest.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include <mvmm/memory/phys_view.hpp>
#include <mvmm/memory/ram_layout.hpp>

namespace mvmm {

inline constexpr std::uint32_t kMemoryImageVersion = 1;
inline constexpr std::uint32_t kMaxImageRanges = 64;
inline constexpr std::uint64_t kMaxImageMetadata = 16 * kMiB;

// Called with (bytes written, bytes total) while an image is written.
using ImageProgress = std::function<void(std::uint64_t done, std::uint64_t total)>;

// Writes every RAM range of `view` and `metadata` to `path`. The file is
// written beside `path` under a temporary name and renamed into place, so an
// interrupted write never leaves a truncated image behind. Throws Error naming
// the path on failure.
void write_memory_image(const std::filesystem::path& path, const PhysView& view,
                        std::string_view metadata, const ImageProgress& progress = {});

class MemoryImage {
  public:
    // Opens and validates an image. Throws Error naming the path and the
    // problem (bad magic, unknown version, ranges outside the file, ...).
    explicit MemoryImage(const std::filesystem::path& path);

    [[nodiscard]] const PhysView& view() const noexcept { return memory_.view(); }
    // The guest's RAM layout with file offsets as the ranges' backing offsets.
    [[nodiscard]] const RamLayout& layout() const noexcept { return memory_.view().layout(); }
    [[nodiscard]] const std::string& metadata() const noexcept { return metadata_; }
    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

    // True if the file starts with the image magic.
    static bool looks_like_image(const std::filesystem::path& path);

  private:
    std::filesystem::path path_;
    std::string metadata_;
    MappedPhysMemory memory_;
};

}  // namespace mvmm
