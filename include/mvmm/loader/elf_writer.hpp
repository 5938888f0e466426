// Writes minimal ELF64 x86-64 executables: synthetic guest kernels for tests,
// benchmarks and the fuzzer's seed corpus. Each segment becomes a PT_LOAD with
// p_paddr = p_vaddr = its address.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace mvmm {

struct ElfSegment {
    std::uint64_t gpa = 0;
    std::vector<std::byte> bytes;
    std::uint64_t mem_size = 0;  // 0: same as bytes.size(); more: zero-filled (bss)
};

std::vector<std::byte> make_elf_executable(std::span<const ElfSegment> segments,
                                           std::uint64_t entry);

}  // namespace mvmm
