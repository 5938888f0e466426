#include <cstring>

#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/introspect/guest_kernel.hpp>
#include <mvmm/introspect/synthetic_kernel.hpp>

namespace mvmm {
namespace {

using walker::PagingMode;

constexpr std::uint64_t kImageBytes = 2 * kMiB;
constexpr std::uint64_t kRootOff = 0x0000;
constexpr std::uint64_t kInitTaskOff = 0x2000;
constexpr std::uint64_t kBannerOff = 0x3000;
constexpr std::uint64_t kVarsOff = 0x4000;
constexpr std::uint64_t kNotesOff = 0x5000;

std::uint64_t page_offset_for(PagingMode mode) {
    return mode == PagingMode::five_level ? 0xff11'0000'0000'0000ULL : 0xffff'8880'0000'0000ULL;
}
std::uint64_t vmemmap_for(PagingMode mode) {
    return mode == PagingMode::five_level ? 0xffd4'0000'0000'0000ULL : 0xffff'ea00'0000'0000ULL;
}

void put32(std::vector<std::byte>& out, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) {
        out.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xff));
    }
}

}  // namespace

SyntheticKernel::SyntheticKernel(walker::SyntheticMemory& memory,
                                 const SyntheticKernelOptions& options)
    : mem_(memory), options_(options) {
    const auto mode = mem_.mode();
    if (mode == PagingMode::five_level) {
        options_.layout_symbols = true;  // 5-level kernels always have them
    }
    image_pa_ = mem_.alloc_aligned(kImageBytes / kPageSize, 2 * kMiB);
    phys_base_ = image_pa_;
    kernel_root_ = mem_.make_kernel_root(image_pa_, image_pa_ + kRootOff);

    // vmemmap: a struct page for every page frame below the end of RAM.
    const auto frames = mem_.view().layout().end_gpa() / kPageSize;
    auto bytes = frames * options_.page_struct_bytes;
    bytes = (bytes + 2 * kMiB - 1) & ~(2 * kMiB - 1);
    vmemmap_pa_ = mem_.alloc_aligned(bytes / kPageSize, 2 * kMiB);
    mem_.map(kernel_root_, vmemmap_for(mode), vmemmap_pa_, bytes, 2 * kMiB);

    // init_task: pid 0, no mm, an empty task list.
    init_task_va_ = image_va(image_pa_ + kInitTaskOff);
    mem_.write64(image_pa_ + kInitTaskOff + kTasks, init_task_va_ + kTasks);
    mem_.write64(image_pa_ + kInitTaskOff + kTasks + 8, init_task_va_ + kTasks);
    const char swapper[16] = "swapper/0";
    mem_.write(image_pa_ + kInitTaskOff + kComm, std::as_bytes(std::span(swapper)));

    banner_va_ = image_va(image_pa_ + kBannerOff);
    std::vector<std::byte> banner(options_.banner.size() + 1);
    std::memcpy(banner.data(), options_.banner.data(), options_.banner.size());
    mem_.write(image_pa_ + kBannerOff, banner);

    phys_base_va_ = image_va(image_pa_ + kVarsOff);
    mem_.write64(image_pa_ + kVarsOff, phys_base_);
    page_offset_var_va_ = image_va(image_pa_ + kVarsOff + 8);
    vmemmap_var_va_ = image_va(image_pa_ + kVarsOff + 16);
    mem_.write64(image_pa_ + kVarsOff + 8, page_offset_for(mode));
    mem_.write64(image_pa_ + kVarsOff + 16, vmemmap_for(mode));

    if (options_.build_id_note) {
        // A "Linux" note first, then the GNU build id.
        std::vector<std::byte> notes;
        put32(notes, 6);
        put32(notes, 4);
        put32(notes, 0x100);
        for (const char c : std::string_view("Linux\0\0\0", 8)) {
            notes.push_back(static_cast<std::byte>(c));
        }
        put32(notes, 0x12345678);
        std::vector<std::byte> id;
        for (std::size_t i = 0; i + 1 < options_.build_id.size(); i += 2) {
            id.push_back(
                static_cast<std::byte>(std::stoul(options_.build_id.substr(i, 2), nullptr, 16)));
        }
        put32(notes, 4);
        put32(notes, static_cast<std::uint32_t>(id.size()));
        put32(notes, 3);
        for (const char c : std::string_view("GNU\0", 4)) {
            notes.push_back(static_cast<std::byte>(c));
        }
        notes.insert(notes.end(), id.begin(), id.end());
        while (notes.size() % 4 != 0) {
            notes.push_back(std::byte{0});
        }
        mem_.write(image_pa_ + kNotesOff, notes);
        notes_start_va_ = image_va(image_pa_ + kNotesOff);
        notes_stop_va_ = notes_start_va_ + notes.size();
    }
    set_refcount(kernel_root_, 1);
}

std::uint64_t SyntheticKernel::image_va(std::uint64_t pa) const noexcept {
    return pa - phys_base_ + kStartKernelMap;
}

std::uint64_t SyntheticKernel::direct_va(std::uint64_t phys) const noexcept {
    return page_offset_for(mem_.mode()) + phys;
}

std::uint64_t SyntheticKernel::task_phys(std::uint64_t task_va) const noexcept {
    if (task_va >= kStartKernelMap) {
        return task_va - kStartKernelMap + phys_base_;
    }
    return task_va - page_offset_for(mem_.mode());
}

std::uint64_t SyntheticKernel::new_root() {
    const auto root = mem_.make_process_root(kernel_root_, options_.pti);
    set_refcount(root, 1);
    return root;
}

std::uint64_t SyntheticKernel::link_task(std::uint64_t task_pa) {
    const auto task_va = direct_va(task_pa);
    const auto head_pa = image_pa_ + kInitTaskOff + kTasks;
    const auto head_va = init_task_va_ + kTasks;
    const auto last_va = mem_.read64(head_pa + 8);  // head.prev
    const auto last_pa = task_phys(last_va - kTasks) + kTasks;
    mem_.write64(task_pa + kTasks, head_va);      // new.next = head
    mem_.write64(task_pa + kTasks + 8, last_va);  // new.prev = last
    mem_.write64(last_pa, task_va + kTasks);      // last.next = new
    mem_.write64(head_pa + 8, task_va + kTasks);  // head.prev = new
    last_task_va_ = task_va;
    return task_va;
}

std::uint64_t SyntheticKernel::new_task(std::int32_t pid, const std::string& comm,
                                        std::uint64_t mm_va) {
    const auto task = mem_.alloc();
    std::array<std::byte, 8> ids{};
    std::memcpy(ids.data(), &pid, 4);
    std::memcpy(ids.data() + 4, &pid, 4);
    mem_.write(task + kPid, ids);
    std::array<char, 16> name{};
    std::memcpy(name.data(), comm.data(), std::min<std::size_t>(comm.size(), 15));
    mem_.write(task + kComm, std::as_bytes(std::span(name)));
    mem_.write64(task + kMm, mm_va);
    return link_task(task);
}

std::uint64_t SyntheticKernel::add_process(std::int32_t pid, const std::string& comm,
                                           std::uint64_t root, std::int64_t pgtables_bytes) {
    const auto mm = mem_.alloc();
    mem_.write64(mm + kPgd, direct_va(root));
    mem_.write64(mm + kPgtablesBytes, static_cast<std::uint64_t>(pgtables_bytes));
    const auto mm_va = direct_va(mm);
    new_task(pid, comm, mm_va);
    return mm_va;
}

void SyntheticKernel::add_task_with_mm(std::int32_t pid, const std::string& comm,
                                       std::uint64_t mm) {
    new_task(pid, comm, mm);
}

void SyntheticKernel::add_kernel_thread(std::int32_t pid, const std::string& comm) {
    new_task(pid, comm, 0);
}

void SyntheticKernel::set_share_count(std::uint64_t phys, std::int32_t count) {
    const auto at = vmemmap_pa_ + (phys / kPageSize) * options_.page_struct_bytes + kShareCount;
    std::array<std::byte, 4> v{};
    std::memcpy(v.data(), &count, 4);
    mem_.write(at, v);
}

void SyntheticKernel::set_refcount(std::uint64_t phys, std::int32_t count) {
    const auto at = vmemmap_pa_ + (phys / kPageSize) * options_.page_struct_bytes + kRefcount;
    std::array<std::byte, 4> v{};
    std::memcpy(v.data(), &count, 4);
    mem_.write(at, v);
}

nlohmann::json SyntheticKernel::profile_json() const {
    nlohmann::json symbols{{"init_task", hex(init_task_va_)},
                           {"init_top_pgt", hex(image_va(kernel_root_))},
                           {"phys_base", hex(phys_base_va_)},
                           {"linux_banner", hex(banner_va_)}};
    if (options_.layout_symbols) {
        symbols["page_offset_base"] = hex(page_offset_var_va_);
        symbols["vmemmap_base"] = hex(vmemmap_var_va_);
    }
    if (options_.build_id_note) {
        symbols["__start_notes"] = hex(notes_start_va_);
        symbols["__stop_notes"] = hex(notes_stop_va_);
    }
    return {{"format", kProfileFormat},
            {"kernel_release", "6.12.117-mshare"},
            {"build_id", options_.build_id},
            {"banner", options_.banner},
            {"symbols", symbols},
            {"offsets",
             {{"task_struct.tasks", kTasks},
              {"task_struct.pid", kPid},
              {"task_struct.tgid", kTgid},
              {"task_struct.comm", kComm},
              {"task_struct.mm", kMm},
              {"mm_struct.pgd", kPgd},
              {"mm_struct.pgtables_bytes", kPgtablesBytes},
              {"page.size", options_.page_struct_bytes},
              {"ptdesc.pt_share_count", kShareCount},
              {"page._refcount", kRefcount}}},
            {"config",
             {{"CONFIG_X86_5LEVEL", mem_.mode() == PagingMode::five_level},
              {"CONFIG_PAGE_TABLE_ISOLATION", options_.pti},
              {"CONFIG_RANDOMIZE_BASE", false},
              {"CONFIG_RANDOMIZE_MEMORY", false},
              {"CONFIG_MSHARE", true}}}};
}

Profile SyntheticKernel::profile() const {
    return Profile::parse(profile_json(), "synthetic");
}

SpecialRegisters SyntheticKernel::registers(std::uint64_t cr3) const {
    SpecialRegisters r;
    r.cr0 = walker::cr::kCr0Paging | 0x11;
    r.cr3 = cr3 != 0 ? cr3 : kernel_root_;
    r.cr4 = walker::cr::kCr4Pae |
            (mem_.mode() == PagingMode::five_level ? walker::cr::kCr4La57 : std::uint64_t{0});
    r.efer = walker::cr::kEferLma | (1ULL << 8);
    return r;
}

}  // namespace mvmm
