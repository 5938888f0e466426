#include <algorithm>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/common/unique_fd.hpp>
#include <mvmm/loader/boot_layout.hpp>
#include <mvmm/loader/boot_params.hpp>
#include <mvmm/loader/loader.hpp>
#include <mvmm/loader/mp_table.hpp>

namespace mvmm {
namespace {

namespace bl = boot_layout;

std::uint64_t align_up(std::uint64_t v, std::uint64_t a) {
    return (v + a - 1) & ~(a - 1);
}
std::uint64_t align_down(std::uint64_t v, std::uint64_t a) {
    return v & ~(a - 1);
}

void load_kernel(const GuestRam& ram, const KernelImage& kernel) {
    const auto what = cat("kernel image ", quote(kernel.name()));
    if (kernel.window_start() < bl::kHighMem) {
        throw Error(cat(what, ": it would load at ", hex(kernel.window_start()),
                        ", below 1 MiB where the boot structures are"));
    }
    if (kernel.window_end() > bl::kIdentityMapped) {
        throw Error(cat(what, ": it would end at ", hex(kernel.window_end()),
                        ", above the identity-mapped first ", human_bytes(bl::kIdentityMapped)));
    }
    const auto window = kernel.window_end() - kernel.window_start();
    if (!ram.layout().contains(kernel.window_start(), window)) {
        throw Error(cat(what, ": needs guest RAM [", hex(kernel.window_start()), ", ",
                        hex(kernel.window_end()), "), which the VM's ",
                        human_bytes(ram.layout().total_bytes()), " of RAM do not cover"));
    }
    for (const auto& seg : kernel.segments()) {
        std::byte* dst = ram.host_address(seg.gpa, seg.mem_size);
        std::memcpy(dst, kernel.bytes().data() + seg.file_offset, seg.file_size);
        std::memset(dst + seg.file_size, 0, seg.mem_size - seg.file_size);
    }
}

// Reads the initrd file straight into guest RAM at the highest page-aligned
// address below the kernel's initrd_addr_max and the end of low RAM.
std::pair<std::uint64_t, std::uint64_t> load_initrd(const GuestRam& ram, const KernelImage& kernel,
                                                    const std::filesystem::path& path) {
    const auto what = cat("initrd ", quote(path.string()));
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
    const auto size = static_cast<std::uint64_t>(st.st_size);
    if (size == 0) {
        throw Error(cat(what, ": the file is empty"));
    }
    const auto& low = ram.layout().ranges().front();
    const std::uint64_t limit = std::min<std::uint64_t>(
        {std::uint64_t{kernel.initrd_addr_max()} + 1, low.gpa + low.size, 1ULL << 32});
    const std::uint64_t floor = align_up(kernel.window_end(), kPageSize);
    if (size > limit || align_down(limit - size, kPageSize) < floor) {
        throw Error(cat(what, ": ", human_bytes(size), " do not fit between the kernel's end (",
                        hex(floor), ") and ", hex(limit), " (initrd_addr_max ",
                        hex(kernel.initrd_addr_max()), ", ",
                        human_bytes(ram.layout().total_bytes()), " of RAM)"));
    }
    const std::uint64_t gpa = align_down(limit - size, kPageSize);
    std::byte* dst = ram.host_address(gpa, size);
    std::uint64_t done = 0;
    while (done < size) {
        const ssize_t n = ::read(fd.get(), dst + done, size - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            throw_errno(cat(what, ": read"));
        }
        if (n == 0) {
            throw Error(cat(what, ": the file shrank while it was read"));
        }
        done += static_cast<std::uint64_t>(n);
    }
    return {gpa, size};
}

}  // namespace

LoadedGuest load_guest(const GuestRam& ram, const KernelImage& kernel, const BootRequest& request) {
    LoadedGuest out;
    load_kernel(ram, kernel);
    out.kernel_start = kernel.window_start();
    out.kernel_end = kernel.window_end();

    const auto& cmdline = request.cmdline;
    if (cmdline.find('\0') != std::string::npos) {
        throw Error("kernel command line: contains a NUL byte");
    }
    const std::uint64_t cmdline_max =
        std::min<std::uint64_t>(kernel.cmdline_max(), bl::kCmdlineMax - 1);
    if (cmdline.size() > cmdline_max) {
        throw Error(cat("kernel command line: ", cmdline.size(),
                        " bytes, the kernel takes at most ", cmdline_max, " (cmdline_size)"));
    }
    ram.write(bl::kCmdline, std::as_bytes(std::span(cmdline.data(), cmdline.size())));
    ram.write(bl::kCmdline + cmdline.size(), std::as_bytes(std::span("", 1)));

    if (request.initrd) {
        std::tie(out.initrd_gpa, out.initrd_size) = load_initrd(ram, kernel, *request.initrd);
    }

    out.e820 = build_e820_map(ram.layout());
    BootParamsSpec spec;
    spec.cmdline_gpa = bl::kCmdline;
    spec.cmdline_size = static_cast<std::uint32_t>(cmdline.size());
    spec.initrd_gpa = out.initrd_gpa;
    spec.initrd_size = out.initrd_size;
    spec.e820 = out.e820;
    ram.write(bl::kBootParams, build_boot_params(kernel, spec));

    ram.write(bl::kMpTable, build_mp_table(bl::kMpTable, request.vcpus));
    ram.write(bl::kGdt, gdt_bytes(build_boot_gdt()));
    ram.write(bl::kPageTables, build_identity_page_tables(bl::kPageTables, bl::kIdentityMapped));

    out.cpu = long_mode_entry_state(kernel.entry(), bl::kBootParams);
    return out;
}

}  // namespace mvmm
