// Writes a seed corpus for fuzz_walker into the folder given as argument:
// well-formed page tables in the fuzzer's input layout (flags, CR3, RAM).
//
//   fuzz_walker_seeds build-fuzz/corpus/walker
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <mvmm/walker/synthetic.hpp>

namespace {

using namespace mvmm;
using namespace mvmm::walker;

constexpr std::uint64_t kRam = 64 * 4096;  // as in fuzz_walker.cpp
constexpr std::uint64_t kRegion = 0x0000'7f00'0000'0000ULL;

void write_seed(const std::filesystem::path& dir, const std::string& name, std::uint8_t flags,
                std::uint64_t cr3, const SyntheticMemory& mem) {
    std::vector<char> bytes(9 + kRam);
    bytes[0] = static_cast<char>(flags);
    std::memcpy(bytes.data() + 1, &cr3, 8);
    const auto ram = mem.view().span(0, kRam);
    std::memcpy(bytes.data() + 9, ram.data(), kRam);
    // Trailing zero pages add nothing: cut them.
    auto end = bytes.size();
    while (end > 9 && bytes[end - 1] == 0) {
        --end;
    }
    std::ofstream out(dir / name, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(end));
}

// Two processes sharing one region through a host PUD, one with own tables.
void tables(const std::filesystem::path& dir, PagingMode mode, bool pti, const std::string& name) {
    SyntheticMemory mem(kRam, mode, 4096);
    const auto kernel = mem.make_kernel_root();
    const auto data = mem.alloc();
    const auto host = mem.make_process_root(kernel, pti);
    mem.map(host, kRegion, data, 4 * 4096);
    const auto pud = mem.table_for(host, kRegion, 3);
    for (int i = 0; i < 2; ++i) {
        const auto root = mem.make_process_root(kernel, pti);
        if (mode == PagingMode::five_level) {
            mem.set_entry(mem.table_for(root, kRegion, 4), table_index(kRegion, 4),
                          pud | kTableFlags);
        } else if (pti) {
            mem.set_pti_entry(root, table_index(kRegion, 4), pud | kTableFlags);
        } else {
            mem.set_entry(root, table_index(kRegion, 4), pud | kTableFlags);
        }
    }
    const auto own = mem.make_process_root(kernel, pti);
    mem.map(own, 0x40'0000, data, 2 * 4096);
    mem.map(own, 0x4000'0000ULL, 0, 2 * kMiB, 2 * kMiB);
    const std::uint8_t flags =
        static_cast<std::uint8_t>((mode == PagingMode::five_level ? 1 : 0) | (pti ? 2 : 0));
    write_seed(dir, name, flags, own, mem);
}

// A tiny kernel at the fuzz profile's addresses (phys_base 0): banner,
// phys_base and layout variables, init_task with one task and its mm.
void kernel(const std::filesystem::path& dir) {
    SyntheticMemory mem(kRam, PagingMode::four_level, 0x8000);
    const auto root = mem.make_kernel_root(0, 0x2000);
    const char banner[] = "Linux version 6.12.117-mshare\n";
    mem.write(0x3100, std::as_bytes(std::span(banner)));
    mem.write64(0x3000, 0);
    mem.write64(0x3008, 0xffff'8880'0000'0000ULL);
    mem.write64(0x3010, 0xffff'ea00'0000'0000ULL);
    const auto proc = mem.make_process_root(root);
    mem.map(proc, 0x40'0000, 0x7000, 4096);
    const std::uint64_t task = 0x5000;
    const std::uint64_t mm = 0x6000;
    const std::uint64_t dm = 0xffff'8880'0000'0000ULL;
    const std::uint64_t init_tasks = 0xffff'ffff'8000'1000ULL + 0x100;
    mem.write64(0x1000 + 0x100, dm + task + 0x100);       // init_task.tasks.next
    mem.write64(0x1000 + 0x108, dm + task + 0x100);       // init_task.tasks.prev
    mem.write64(task + 0x100, init_tasks);                // task.tasks.next
    mem.write64(task + 0x108, init_tasks);                // task.tasks.prev
    mem.write64(task + 0x200, 0x0000'0001'0000'0001ULL);  // pid 1, tgid 1
    mem.write64(task + 0x300, 0x74696e69);                // "init"
    mem.write64(task + 0x180, dm + mm);                   // task.mm
    mem.write64(mm + 0x50, dm + proc);                    // mm.pgd
    mem.write64(mm + 0x88, 3 * 4096);                     // mm.pgtables_bytes
    write_seed(dir, "kernel-profile", 4, root, mem);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s CORPUS_FOLDER\n", argv[0]);
        return 2;
    }
    const std::filesystem::path dir(argv[1]);
    std::filesystem::create_directories(dir);
    tables(dir, PagingMode::four_level, false, "four-level-shared");
    tables(dir, PagingMode::five_level, false, "five-level-shared");
    tables(dir, PagingMode::four_level, true, "pti-shared");
    kernel(dir);
    std::printf("wrote 4 seeds to %s\n", dir.c_str());
    return 0;
}
