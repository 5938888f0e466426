#include <cstring>

#include <sys/mman.h>

#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/walker/synthetic.hpp>

namespace mvmm::walker {
namespace {

std::uint64_t kernel_image_va() {
    return 0xffff'ffff'8000'0000ULL;
}
std::uint64_t direct_map_va(PagingMode mode) {
    return mode == PagingMode::five_level ? 0xff11'0000'0000'0000ULL : 0xffff'8880'0000'0000ULL;
}
std::uint64_t vmalloc_va(PagingMode mode) {
    return mode == PagingMode::five_level ? 0xffa0'0000'0000'0000ULL : 0xffff'c900'0000'0000ULL;
}

}  // namespace

SyntheticMemory::SyntheticMemory(std::uint64_t ram_bytes, PagingMode mode,
                                 std::uint64_t first_allocation)
    : mode_(mode), next_(std::max<std::uint64_t>(first_allocation, kPageSize)) {
    auto layout = RamLayout::x86_standard(ram_bytes);
    ram_ = Mapping("synthetic guest RAM", layout.backing_size(), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1);
    view_ = PhysView(std::span<const std::byte>(ram_.data(), ram_.size()), std::move(layout));
}

std::uint64_t SyntheticMemory::alloc(std::uint64_t pages) {
    std::uint64_t align = 1;
    while (align < pages && align < 512) {
        align <<= 1;
    }
    return alloc_aligned(pages, align * kPageSize);
}

std::uint64_t SyntheticMemory::alloc_aligned(std::uint64_t pages, std::uint64_t align_bytes) {
    for (const auto& r : view_.layout().ranges()) {
        auto start = std::max(next_, r.gpa);
        start = (start + align_bytes - 1) & ~(align_bytes - 1);
        if (start + pages * kPageSize <= r.gpa + r.size) {
            next_ = start + pages * kPageSize;
            allocated_ += pages;
            return start;
        }
    }
    throw Error(cat("synthetic guest RAM of ", human_bytes(view_.layout().total_bytes()),
                    " is full (", allocated_, " pages handed out, ", pages, " more wanted)"));
}

void SyntheticMemory::write(std::uint64_t gpa, std::span<const std::byte> bytes) {
    const auto offset = view_.layout().offset_of(gpa, bytes.size());
    if (!offset) {
        throw Error(cat("synthetic guest RAM: [", hex(gpa), ", +", bytes.size(), ") is not RAM"));
    }
    std::memcpy(ram_.data() + *offset, bytes.data(), bytes.size());
}

void SyntheticMemory::write64(std::uint64_t gpa, std::uint64_t value) {
    const auto offset = view_.layout().offset_of(gpa, 8);
    if (!offset) {
        throw Error(cat("synthetic guest RAM: ", hex(gpa), " is not RAM"));
    }
    std::memcpy(ram_.data() + *offset, &value, 8);
}

std::uint64_t SyntheticMemory::read64(std::uint64_t gpa) const {
    const auto value = view_.read_as<std::uint64_t>(gpa);
    if (!value) {
        throw Error(cat("synthetic guest RAM: ", hex(gpa), " is not RAM"));
    }
    return *value;
}

std::uint64_t SyntheticMemory::table_for(std::uint64_t root, std::uint64_t va, int level) {
    std::uint64_t table = root;
    for (int l = top_level(mode_); l > level; --l) {
        const auto index = table_index(va, l);
        const auto e = get_entry(table, index);
        if ((e & entry::kPresent) != 0) {
            if ((e & entry::kPageSize) != 0 && l <= 3) {
                throw Error(cat("synthetic page tables: ", hex(va), " is inside a huge page"));
            }
            table = e & entry::kAddressMask;
            continue;
        }
        const auto fresh = alloc();
        if (l == top_level(mode_) && index < 256 && pti_roots_.count(root) != 0) {
            set_pti_entry(root, index, fresh | kTableFlags);
        } else {
            set_entry(table, index, fresh | kTableFlags);
        }
        table = fresh;
    }
    return table;
}

void SyntheticMemory::map(std::uint64_t root, std::uint64_t va, std::uint64_t pa,
                          std::uint64_t bytes, std::uint64_t page_bytes, std::uint64_t leaf_extra) {
    int level = 1;
    if (page_bytes == leaf_bytes(2)) {
        level = 2;
    } else if (page_bytes == leaf_bytes(3)) {
        level = 3;
    } else if (page_bytes != leaf_bytes(1)) {
        throw Error(cat("synthetic page tables: page size ", page_bytes, " is not 4K, 2M or 1G"));
    }
    if (va % page_bytes != 0 || pa % page_bytes != 0 || bytes % page_bytes != 0) {
        throw Error(cat("synthetic page tables: mapping ", hex(va), " -> ", hex(pa),
                        " is not aligned to its page size"));
    }
    const std::uint64_t flags =
        kTableFlags | leaf_extra | (level > 1 ? entry::kPageSize : std::uint64_t{0});
    const std::uint64_t table_span = page_bytes * kEntriesPerTable;
    std::uint64_t table = 0;
    for (std::uint64_t off = 0; off < bytes; off += page_bytes) {
        const auto v = va + off;
        if (table == 0 || v % table_span == 0) {
            table = table_for(root, v, level);
        }
        set_entry(table, table_index(v, level), (pa + off) | flags);
    }
}

void SyntheticMemory::set_pti_entry(std::uint64_t root, unsigned index, std::uint64_t value) {
    set_entry(root + kTableBytes, index, value);
    const bool user_present =
        (value & (entry::kPresent | entry::kUser)) == (entry::kPresent | entry::kUser);
    set_entry(root, index, user_present ? value | entry::kNoExecute : value);
}

std::uint64_t SyntheticMemory::make_kernel_root(std::uint64_t image_pa, std::uint64_t root_pa) {
    const auto root = root_pa != 0 ? root_pa : alloc();
    map(root, kernel_image_va(), image_pa, leaf_bytes(2), leaf_bytes(2));
    const auto ram_end = view_.layout().end_gpa();
    const auto gib = leaf_bytes(3);
    map(root, direct_map_va(mode_), 0, (ram_end + gib - 1) / gib * gib, gib);
    for (int i = 0; i < 4; ++i) {
        (void)table_for(
            root, vmalloc_va(mode_) + static_cast<std::uint64_t>(i) * entry_span(top_level(mode_)),
            top_level(mode_) - 1);
    }
    return root;
}

std::uint64_t SyntheticMemory::make_process_root(std::uint64_t kernel_root, bool pti) {
    const auto root = alloc(pti ? 2 : 1);
    for (unsigned i = 256; i < 512; ++i) {
        set_entry(root, i, get_entry(kernel_root, i));
    }
    if (pti) {
        // The user copy's kernel half maps only what the entry code needs,
        // through tables of its own, shared by all user copies.
        if (pti_kernel_table_ == 0) {
            pti_kernel_table_ = alloc();
        }
        set_entry(root + kTableBytes, 511, pti_kernel_table_ | entry::kPresent | entry::kWritable);
        pti_roots_.insert(root);
    }
    return root;
}

std::uint64_t ram_needed(const ProcessImageSpec& spec) {
    const auto per_table = [](std::uint64_t bytes, int level) {
        const auto span = entry_span(level) * kEntriesPerTable;
        return (bytes + span - 1) / span;
    };
    const std::uint64_t b = spec.bytes_per_process;
    const std::uint64_t tables = per_table(b, 1) + per_table(b, 2) + per_table(b, 3) + 4;
    const std::uint64_t copies = spec.shared ? 1 : spec.processes;
    const std::uint64_t pages = tables * copies + spec.processes * 4 + b / kPageSize + 64;
    const std::uint64_t bytes = pages * kPageSize + 8 * kMiB;
    return (bytes + 2 * kMiB - 1) & ~(2 * kMiB - 1);
}

ProcessImage build_process_image(SyntheticMemory& memory, const ProcessImageSpec& spec) {
    if (spec.region_va % entry_span(4) != 0) {
        throw Error(cat("synthetic process image: region address ", hex(spec.region_va),
                        " is not 512 GiB aligned"));
    }
    ProcessImage image;
    image.region_va = spec.region_va;
    image.kernel_root = memory.make_kernel_root();
    const auto pages = spec.bytes_per_process / kPageSize;
    const auto data = memory.alloc(pages);
    const int top = top_level(memory.mode());
    if (spec.shared) {
        image.host_root = memory.make_process_root(image.kernel_root, spec.pti);
        memory.map(image.host_root, spec.region_va, data, spec.bytes_per_process);
        image.region_pud = memory.table_for(image.host_root, spec.region_va, 3);
    }
    for (unsigned p = 0; p < spec.processes; ++p) {
        const auto root = memory.make_process_root(image.kernel_root, spec.pti);
        if (!spec.shared) {
            memory.map(root, spec.region_va, data, spec.bytes_per_process);
        } else if (top == 4) {
            const auto index = table_index(spec.region_va, 4);
            if (spec.pti) {
                memory.set_pti_entry(root, index, image.region_pud | kTableFlags);
            } else {
                memory.set_entry(root, index, image.region_pud | kTableFlags);
            }
        } else {
            const auto p4d = memory.table_for(root, spec.region_va, 4);
            memory.set_entry(p4d, table_index(spec.region_va, 4), image.region_pud | kTableFlags);
        }
        image.process_roots.push_back(root);
    }
    return image;
}

}  // namespace mvmm::walker
