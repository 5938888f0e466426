#include <algorithm>
#include <limits>
#include <optional>

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/common/unique_fd.hpp>
#include <mvmm/loader/byte_io.hpp>
#include <mvmm/loader/kernel_image.hpp>
#include <mvmm/loader/zero_page.hpp>

namespace mvmm {
namespace {

namespace zp = zero_page;

constexpr std::uint64_t kMaxImageBytes = 1ULL << 30;
// Guest-physical addresses the loader accepts at all (52-bit physical address space).
constexpr std::uint64_t kMaxPhysAddress = 1ULL << 52;
constexpr std::uint64_t kDefaultLoadAddress = 0x100000;
constexpr std::uint64_t kEntry64Offset = 0x200;
// What the loader claims in the setup header it makes for an ELF kernel.
constexpr std::uint16_t kElfProtocol = 0x020f;
constexpr std::uint32_t kElfInitrdAddrMax = 0x7fffffff;
constexpr std::uint32_t kElfCmdlineMax = 2047;  // COMMAND_LINE_SIZE - 1 on x86

std::string protocol_text(std::uint16_t version) {
    return cat(version >> 8, ".", (version & 0xff) < 10 ? "0" : "", version & 0xff);
}

bool is_power_of_two(std::uint64_t v) {
    return v != 0 && (v & (v - 1)) == 0;
}

}  // namespace

const char* to_string(KernelFormat format) {
    return format == KernelFormat::bzimage ? "bzImage" : "ELF";
}

KernelImage KernelImage::load(const std::filesystem::path& path) {
    const std::string what = cat("kernel image ", quote(path.string()));
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        throw_errno(cat(what, ": cannot open"));
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        throw_errno(cat(what, ": fstat"));
    }
    if (!S_ISREG(st.st_mode)) {
        throw Error(cat(what, ": not a regular file"));
    }
    if (static_cast<std::uint64_t>(st.st_size) > kMaxImageBytes) {
        throw Error(cat(what, ": ", human_bytes(static_cast<std::uint64_t>(st.st_size)),
                        " is too large for a kernel (limit ", human_bytes(kMaxImageBytes), ")"));
    }
    std::vector<std::byte> bytes(static_cast<std::size_t>(st.st_size));
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::read(fd.get(), bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            throw_errno(cat(what, ": read"));
        }
        if (n == 0) {
            throw Error(cat(what, ": the file shrank while it was read"));
        }
        done += static_cast<std::size_t>(n);
    }
    return parse(std::move(bytes), path.string());
}

KernelImage KernelImage::parse(std::vector<std::byte> bytes, std::string name) {
    KernelImage image;
    image.name_ = std::move(name);
    image.bytes_ = std::move(bytes);
    const ByteReader r(image.bytes_, cat("kernel image ", quote(image.name_)));
    if (r.size() == 0) {
        throw Error(cat(r.what(), ": the file is empty"));
    }
    const bool elf = r.has(0, 4) && r.u32(0, "ELF magic") == 0x464c457f;  // "\x7fELF"
    const bool bz = r.has(zp::kHeader, 4) && r.u32(zp::kHeader, "HdrS") == zp::kHeaderMagic;
    if (elf) {
        image.format_ = KernelFormat::elf;
        image.parse_elf();
    } else if (bz) {
        image.format_ = KernelFormat::bzimage;
        image.parse_bzimage();
    } else {
        throw Error(cat(r.what(), ": neither an ELF vmlinux (no ELF magic at 0) nor a bzImage",
                        " (no HdrS magic at 0x202)"));
    }
    return image;
}

void KernelImage::parse_bzimage() {
    const ByteReader r(bytes_, cat("kernel image ", quote(name_)));
    const auto& what = r.what();

    const auto boot_flag = r.u16(zp::kBootFlag, "boot_flag");
    if (boot_flag != zp::kBootFlagMagic) {
        throw Error(cat(what, ": not a bzImage (boot_flag at 0x1fe is ", hex(boot_flag),
                        ", expected 0xaa55)"));
    }
    protocol_ = r.u16(zp::kVersion, "boot protocol version");
    if (protocol_ < 0x0206) {
        throw Error(cat(what, ": boot protocol ", protocol_text(protocol_),
                        " is too old (need 2.06 or later)"));
    }
    const auto loadflags = r.u8(zp::kLoadFlags, "loadflags");
    if ((loadflags & zp::kLoadedHigh) == 0) {
        throw Error(cat(what, ": not a bzImage (loadflags has no LOADED_HIGH: a zImage?)"));
    }
    if (protocol_ >= 0x020c) {
        const auto xloadflags = r.u16(zp::kXLoadFlags, "xloadflags");
        if ((xloadflags & zp::kXlfKernel64) == 0) {
            throw Error(cat(what, ": not a 64-bit kernel (xloadflags ", hex(xloadflags),
                            " has no XLF_KERNEL_64)"));
        }
    }

    // The setup code: setup_sects 512-byte sectors after the boot sector.
    unsigned setup_sects = r.u8(zp::kSetupSects, "setup_sects");
    if (setup_sects == 0) {
        setup_sects = 4;
    }
    const std::uint64_t setup_size = (setup_sects + 1ULL) * 512;
    if (setup_size >= r.size()) {
        throw Error(cat(what, ": truncated: the setup code takes ", setup_size,
                        " bytes (setup_sects ", setup_sects, "), the file has ", r.size()));
    }
    // The header ends at 0x202 + the jump offset at 0x201.
    std::uint64_t header_end = 0x202 + std::uint64_t{r.u8(zp::kJump + 1, "setup header jump")};
    header_end = std::min({header_end, zp::kSetupHeaderAreaEnd, setup_size});
    const std::uint64_t needed_end = zp::kCmdlineSize + 4;
    if (header_end < needed_end) {
        throw Error(cat(what, ": the setup header ends at ", hex(header_end), ", before ",
                        hex(needed_end), " which protocol ", protocol_text(protocol_), " needs"));
    }
    const auto header = r.slice(zp::kSetupHeader, header_end - zp::kSetupHeader, "setup header");
    setup_header_.assign(header.begin(), header.end());

    // The protected-mode kernel follows the setup code.
    const std::uint64_t payload_size = r.size() - setup_size;
    const std::uint64_t syssize = std::uint64_t{r.u32(zp::kSysSize, "syssize")} * 16;
    if (syssize > payload_size) {
        throw Error(cat(what, ": truncated: the protected-mode kernel has ", payload_size,
                        " bytes, the setup header says ", syssize, " (syssize)"));
    }
    if (payload_size <= kEntry64Offset) {
        throw Error(cat(what, ": truncated: the protected-mode kernel has ", payload_size,
                        " bytes, too few for the 64-bit entry at +0x200"));
    }

    initrd_addr_max_ = r.u32(zp::kInitrdAddrMax, "initrd_addr_max");
    cmdline_max_ = r.u32(zp::kCmdlineSize, "cmdline_size");
    if (cmdline_max_ == 0) {
        throw Error(cat(what, ": cmdline_size in the setup header is 0"));
    }

    // Where to load it (boot.rst, "init_size"): a relocatable kernel at
    // pref_address rounded up to kernel_alignment, else at pref_address.
    const auto alignment = r.u32(zp::kKernelAlignment, "kernel_alignment");
    const bool relocatable = r.u8(zp::kRelocatableKernel, "relocatable_kernel") != 0;
    std::uint64_t pref = 0;
    std::uint64_t init_size = 0;
    if (protocol_ >= 0x020a) {
        pref = r.u64(zp::kPrefAddress, "pref_address");
        init_size = r.u32(zp::kInitSize, "init_size");
    } else {
        init_size = payload_size * 4;  // no init_size before 2.10: leave room to decompress
    }
    if (pref >= kMaxPhysAddress) {
        throw Error(cat(what, ": pref_address ", hex(pref), " is not a physical address"));
    }
    std::uint64_t load = kDefaultLoadAddress;
    if (relocatable) {
        load = std::max(load, pref);
        if (is_power_of_two(alignment)) {
            load = (load + alignment - 1) & ~(std::uint64_t{alignment} - 1);
        }
    } else if (pref != 0) {
        load = pref;
    }
    segments_.push_back({load, setup_size, payload_size, payload_size});
    entry_ = load + kEntry64Offset;
    window_start_ = load;
    window_end_ = load + std::max(init_size, payload_size);
}

void KernelImage::parse_elf() {
    const ByteReader r(bytes_, cat("kernel image ", quote(name_)));
    const auto& what = r.what();
    r.require(0, sizeof(Elf64_Ehdr), "the ELF header");
    const auto elf_class = r.u8(EI_CLASS, "EI_CLASS");
    if (elf_class != ELFCLASS64) {
        throw Error(cat(what, ": not a 64-bit ELF (EI_CLASS is ", unsigned{elf_class}, ")"));
    }
    if (r.u8(EI_DATA, "EI_DATA") != ELFDATA2LSB) {
        throw Error(cat(what, ": not a little-endian ELF"));
    }
    const auto type = r.u16(16, "e_type");
    if (type != ET_EXEC) {
        throw Error(cat(what, ": ELF type ", type, " is not an executable (ET_EXEC)"));
    }
    const auto machine = r.u16(18, "e_machine");
    if (machine != EM_X86_64) {
        throw Error(cat(what, ": ELF machine ", machine, " is not x86-64"));
    }
    const std::uint64_t entry = r.u64(24, "e_entry");
    const std::uint64_t phoff = r.u64(32, "e_phoff");
    const std::uint16_t phentsize = r.u16(54, "e_phentsize");
    const std::uint16_t phnum = r.u16(56, "e_phnum");
    if (phnum == 0) {
        throw Error(cat(what, ": the ELF has no program headers"));
    }
    if (phnum == PN_XNUM) {
        throw Error(cat(what, ": the ELF has too many program headers (PN_XNUM)"));
    }
    if (phentsize != sizeof(Elf64_Phdr)) {
        throw Error(cat(what, ": e_phentsize is ", phentsize, ", expected ", sizeof(Elf64_Phdr)));
    }
    r.require(phoff, std::uint64_t{phnum} * phentsize, "the program headers");

    std::uint64_t low = std::numeric_limits<std::uint64_t>::max();
    std::uint64_t high = 0;
    std::optional<std::uint64_t> entry_gpa;
    for (unsigned i = 0; i < phnum; ++i) {
        const std::uint64_t ph = phoff + std::uint64_t{i} * phentsize;
        if (r.u32(ph, "p_type") != PT_LOAD) {
            continue;
        }
        const std::uint64_t offset = r.u64(ph + 8, "p_offset");
        const std::uint64_t vaddr = r.u64(ph + 16, "p_vaddr");
        const std::uint64_t paddr = r.u64(ph + 24, "p_paddr");
        const std::uint64_t filesz = r.u64(ph + 32, "p_filesz");
        const std::uint64_t memsz = r.u64(ph + 40, "p_memsz");
        const std::string seg = cat("PT_LOAD segment ", i);
        if (filesz > memsz) {
            throw Error(
                cat(what, ": ", seg, " has p_filesz ", hex(filesz), " > p_memsz ", hex(memsz)));
        }
        if (!r.has(offset, filesz)) {
            throw Error(cat(what, ": truncated: ", seg, " needs file bytes [", hex(offset), ", ",
                            hex(offset + filesz), "), the file has ", hex(r.size())));
        }
        if (paddr >= kMaxPhysAddress || memsz >= kMaxPhysAddress - paddr) {
            throw Error(cat(what, ": ", seg, " at physical ", hex(paddr), " with size ", hex(memsz),
                            " is beyond any guest RAM"));
        }
        if (memsz == 0) {
            continue;
        }
        segments_.push_back({paddr, offset, filesz, memsz});
        low = std::min(low, paddr);
        high = std::max(high, paddr + memsz);
        if (!entry_gpa && entry >= paddr && entry - paddr < memsz) {
            entry_gpa = entry;  // vmlinux: the entry (phys_startup_64) is physical
        } else if (!entry_gpa && entry >= vaddr && entry - vaddr < memsz) {
            entry_gpa = paddr + (entry - vaddr);  // a virtual entry: translate
        }
    }
    if (segments_.empty()) {
        throw Error(cat(what, ": the ELF has no PT_LOAD segment with contents"));
    }
    if (!entry_gpa) {
        throw Error(
            cat(what, ": the ELF entry point ", hex(entry), " is not inside any PT_LOAD segment"));
    }
    entry_ = *entry_gpa;
    window_start_ = low;
    window_end_ = high;
    protocol_ = kElfProtocol;
    initrd_addr_max_ = kElfInitrdAddrMax;
    cmdline_max_ = kElfCmdlineMax;
}

}  // namespace mvmm
