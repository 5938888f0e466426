// Offsets of the fields of the x86 boot protocol's setup header and of
// boot_params (the "zero page") that the loader reads or writes. The setup
// header sits at the same offset (0x1f1) in a bzImage file and in
// boot_params. Source: Documentation/arch/x86/boot.rst and zero-page.rst.
#pragma once

#include <cstdint>

namespace mvmm::zero_page {

inline constexpr std::uint64_t kSize = 4096;

// boot_params fields outside the setup header.
inline constexpr std::uint64_t kExtRamdiskImage = 0x0c0;
inline constexpr std::uint64_t kExtRamdiskSize = 0x0c4;
inline constexpr std::uint64_t kExtCmdLinePtr = 0x0c8;
inline constexpr std::uint64_t kE820Entries = 0x1e8;
inline constexpr std::uint64_t kSentinel = 0x1ef;
inline constexpr std::uint64_t kE820Table = 0x2d0;
inline constexpr std::uint64_t kE820MaxEntries = 128;
inline constexpr std::uint64_t kE820EntrySize = 20;

// The setup header.
inline constexpr std::uint64_t kSetupHeader = 0x1f1;
inline constexpr std::uint64_t kSetupSects = 0x1f1;
inline constexpr std::uint64_t kSysSize = 0x1f4;
inline constexpr std::uint64_t kVidMode = 0x1fa;
inline constexpr std::uint64_t kBootFlag = 0x1fe;
inline constexpr std::uint64_t kJump = 0x200;
inline constexpr std::uint64_t kHeader = 0x202;
inline constexpr std::uint64_t kVersion = 0x206;
inline constexpr std::uint64_t kTypeOfLoader = 0x210;
inline constexpr std::uint64_t kLoadFlags = 0x211;
inline constexpr std::uint64_t kCode32Start = 0x214;
inline constexpr std::uint64_t kRamdiskImage = 0x218;
inline constexpr std::uint64_t kRamdiskSize = 0x21c;
inline constexpr std::uint64_t kHeapEndPtr = 0x224;
inline constexpr std::uint64_t kCmdLinePtr = 0x228;
inline constexpr std::uint64_t kInitrdAddrMax = 0x22c;
inline constexpr std::uint64_t kKernelAlignment = 0x230;
inline constexpr std::uint64_t kRelocatableKernel = 0x234;
inline constexpr std::uint64_t kMinAlignment = 0x235;
inline constexpr std::uint64_t kXLoadFlags = 0x236;
inline constexpr std::uint64_t kCmdlineSize = 0x238;
inline constexpr std::uint64_t kPrefAddress = 0x258;
inline constexpr std::uint64_t kInitSize = 0x260;
// End of the header area in boot_params (edd_mbr_sig_buffer follows).
inline constexpr std::uint64_t kSetupHeaderAreaEnd = 0x290;

inline constexpr std::uint16_t kBootFlagMagic = 0xaa55;
inline constexpr std::uint32_t kHeaderMagic = 0x53726448;  // "HdrS"
inline constexpr std::uint8_t kLoaderUndefined = 0xff;     // type_of_loader

// loadflags and xloadflags bits.
inline constexpr std::uint8_t kLoadedHigh = 1U << 0;
inline constexpr std::uint8_t kCanUseHeap = 1U << 7;
inline constexpr std::uint16_t kXlfKernel64 = 1U << 0;

// E820 types.
inline constexpr std::uint32_t kE820Ram = 1;
inline constexpr std::uint32_t kE820Reserved = 2;

}  // namespace mvmm::zero_page
