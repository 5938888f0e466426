// A guest kernel image, parsed and checked: a bzImage (x86 boot protocol
// 2.06 or later, entered at its 64-bit entry point) or a vmlinux ELF (PT_LOAD
// segments at their physical addresses, entered at the ELF entry).
//
// Parsing never trusts the file: every offset and size is checked, and a bad
// image gives an Error that names the image and what is wrong with it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace mvmm {

enum class KernelFormat { bzimage, elf };
// "bzImage" or "ELF".
const char* to_string(KernelFormat format);

// One piece of the image to copy into guest RAM: file bytes
// [file_offset, file_offset+file_size) go to gpa, and the rest of mem_size is zeroed.
struct KernelSegment {
    std::uint64_t gpa = 0;
    std::uint64_t file_offset = 0;
    std::uint64_t file_size = 0;
    std::uint64_t mem_size = 0;
};

class KernelImage {
  public:
    // Throws Error("kernel image '<name>': <reason>") if the bytes are not a usable kernel.
    static KernelImage parse(std::vector<std::byte> bytes, std::string name);
    // Reads and parses a file; the name in messages is the path.
    static KernelImage load(const std::filesystem::path& path);

    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    [[nodiscard]] KernelFormat format() const noexcept { return format_; }
    [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return bytes_; }
    [[nodiscard]] const std::vector<KernelSegment>& segments() const noexcept { return segments_; }
    // Guest-physical address of the 64-bit entry point.
    [[nodiscard]] std::uint64_t entry() const noexcept { return entry_; }
    // The memory the kernel needs from its load address before it reads the
    // memory map: [start, end). For a bzImage, load address + init_size.
    [[nodiscard]] std::uint64_t window_start() const noexcept { return window_start_; }
    [[nodiscard]] std::uint64_t window_end() const noexcept { return window_end_; }

    // Boot protocol version (e.g. 0x020f); for an ELF the version the loader
    // claims in the header it makes.
    [[nodiscard]] std::uint16_t protocol() const noexcept { return protocol_; }
    // The setup header as it is in the file, from 0x1f1 to its end (bzImage only).
    [[nodiscard]] std::span<const std::byte> setup_header() const noexcept { return setup_header_; }
    // Highest address the initrd may occupy (inclusive).
    [[nodiscard]] std::uint32_t initrd_addr_max() const noexcept { return initrd_addr_max_; }
    // Longest command line the kernel takes, without the terminating NUL.
    [[nodiscard]] std::uint32_t cmdline_max() const noexcept { return cmdline_max_; }

  private:
    KernelImage() = default;
    void parse_bzimage();
    void parse_elf();

    std::string name_;
    std::vector<std::byte> bytes_;
    KernelFormat format_ = KernelFormat::elf;
    std::vector<KernelSegment> segments_;
    std::uint64_t entry_ = 0;
    std::uint64_t window_start_ = 0;
    std::uint64_t window_end_ = 0;
    std::uint16_t protocol_ = 0;
    std::vector<std::byte> setup_header_;
    std::uint32_t initrd_addr_max_ = 0;
    std::uint32_t cmdline_max_ = 0;
};

}  // namespace mvmm
