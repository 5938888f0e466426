#include <algorithm>

#include <elf.h>

#include <mvmm/loader/byte_io.hpp>
#include <mvmm/loader/elf_writer.hpp>

namespace mvmm {

std::vector<std::byte> make_elf_executable(std::span<const ElfSegment> segments,
                                           std::uint64_t entry) {
    const std::size_t phoff = sizeof(Elf64_Ehdr);
    const std::size_t data_start = phoff + segments.size() * sizeof(Elf64_Phdr);
    std::size_t size = data_start;
    for (const auto& s : segments) {
        size += s.bytes.size();
    }
    std::vector<std::byte> out(size);
    ByteWriter w(out);
    w.text(0,
           "\x7f"
           "ELF");
    w.u8(EI_CLASS, ELFCLASS64);
    w.u8(EI_DATA, ELFDATA2LSB);
    w.u8(EI_VERSION, EV_CURRENT);
    w.u16(16, ET_EXEC);
    w.u16(18, EM_X86_64);
    w.u32(20, EV_CURRENT);
    w.u64(24, entry);
    w.u64(32, phoff);
    w.u16(52, sizeof(Elf64_Ehdr));
    w.u16(54, sizeof(Elf64_Phdr));
    w.u16(56, static_cast<std::uint16_t>(segments.size()));
    std::size_t data = data_start;
    for (std::size_t i = 0; i < segments.size(); ++i) {
        const auto& s = segments[i];
        const std::size_t ph = phoff + i * sizeof(Elf64_Phdr);
        w.u32(ph + 0, PT_LOAD);
        w.u32(ph + 4, PF_R | PF_W | PF_X);
        w.u64(ph + 8, data);
        w.u64(ph + 16, s.gpa);
        w.u64(ph + 24, s.gpa);
        w.u64(ph + 32, s.bytes.size());
        w.u64(ph + 40, std::max<std::uint64_t>(s.mem_size, s.bytes.size()));
        w.u64(ph + 48, 0x1000);
        w.bytes(data, s.bytes);
        data += s.bytes.size();
    }
    return out;
}

}  // namespace mvmm
