// Writes a manifest as a cpio "newc" archive, the format the kernel unpacks
// into its initial root file system.
//
// The output depends only on the manifest and the source files' contents:
// entries in path order, owner root:root, one fixed mtime, inode numbers
// counted from 1, device 0. The same inputs give the same bytes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "manifest.hpp"

namespace mvmm::initramfs {

struct CpioOptions {
    std::int64_t mtime = 0;  // for every entry (SOURCE_DATE_EPOCH if the caller likes)
    // The initramfs has no C library: refuse ELF files that need an interpreter.
    bool require_static_elf = true;
};

// True if `data` is an ELF file with a PT_INTERP program header (dynamically
// linked). Not ELF, or truncated: false.
bool elf_needs_interpreter(const std::string& data);

// Writes `output` atomically (a temporary file renamed into place). Throws
// Error naming the entry or file on any failure.
void write_cpio(const Manifest& manifest, const std::filesystem::path& output,
                const CpioOptions& options = {});

}  // namespace mvmm::initramfs
