// A synthetic Linux kernel in synthetic guest memory, for tests and
// benchmarks of the profile path without a VM: a kernel image with
// linux_banner, phys_base, init_top_pgt, init_task and an optional build-id
// note; task_structs on init_task.tasks; mm_structs with pgd and
// pgtables_bytes; a vmemmap of struct pages holding share counts and
// reference counts. Its profile() describes exactly this layout.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <mvmm/engine/engine.hpp>
#include <mvmm/introspect/profile.hpp>
#include <mvmm/walker/synthetic.hpp>

namespace mvmm {

struct SyntheticKernelOptions {
    std::string banner = "Linux version 6.12.117-mshare (builder@mvmm) #1 SMP synthetic\n";
    std::string build_id = "0123456789abcdef0123456789abcdef01234567";
    bool build_id_note = true;    // put a GNU build-id note in the image
    bool layout_symbols = false;  // export page_offset_base/vmemmap_base variables
    bool pti = false;             // 8 KiB top-level pairs
    std::uint64_t page_struct_bytes = 64;
};

class SyntheticKernel {
  public:
    SyntheticKernel(walker::SyntheticMemory& memory, const SyntheticKernelOptions& options = {});

    [[nodiscard]] walker::SyntheticMemory& memory() noexcept { return mem_; }
    [[nodiscard]] std::uint64_t kernel_root() const noexcept { return kernel_root_; }
    [[nodiscard]] std::uint64_t phys_base() const noexcept { return phys_base_; }
    [[nodiscard]] std::uint64_t init_task() const noexcept { return init_task_va_; }

    // A new top-level table copying the kernel half (8 KiB pair with PTI).
    std::uint64_t new_root();

    // Adds a task with a new mm whose pgd is `root`. Returns the mm's kernel address.
    std::uint64_t add_process(std::int32_t pid, const std::string& comm, std::uint64_t root,
                              std::int64_t pgtables_bytes = 0);
    // Adds a task sharing the mm of an earlier one (CLONE_VM).
    void add_task_with_mm(std::int32_t pid, const std::string& comm, std::uint64_t mm);
    void add_kernel_thread(std::int32_t pid, const std::string& comm);

    // struct page fields of the page at `phys`.
    void set_share_count(std::uint64_t phys, std::int32_t count);
    void set_refcount(std::uint64_t phys, std::int32_t count);

    // Kernel virtual address (direct map) of a guest-physical address.
    [[nodiscard]] std::uint64_t direct_va(std::uint64_t phys) const noexcept;
    // Guest-physical address of the task_struct at `task_va` (direct map).
    [[nodiscard]] std::uint64_t task_phys(std::uint64_t task_va) const noexcept;
    // The last task added (kernel address), for tests that damage the list.
    [[nodiscard]] std::uint64_t last_task() const noexcept { return last_task_va_; }

    // Offsets of the synthetic structures.
    static constexpr std::uint64_t kTasks = 0x100;
    static constexpr std::uint64_t kMm = 0x180;
    static constexpr std::uint64_t kPid = 0x200;
    static constexpr std::uint64_t kTgid = 0x204;
    static constexpr std::uint64_t kComm = 0x300;
    static constexpr std::uint64_t kPgd = 0x50;
    static constexpr std::uint64_t kPgtablesBytes = 0x88;
    static constexpr std::uint64_t kShareCount = 40;
    static constexpr std::uint64_t kRefcount = 52;

    // The profile of this kernel (as JSON and parsed).
    [[nodiscard]] nlohmann::json profile_json() const;
    [[nodiscard]] Profile profile() const;

    // vCPU registers of a guest running this kernel in long mode (CR3 = the
    // kernel root, or `cr3` if given).
    [[nodiscard]] SpecialRegisters registers(std::uint64_t cr3 = 0) const;

  private:
    std::uint64_t image_va(std::uint64_t pa) const noexcept;
    std::uint64_t link_task(std::uint64_t task_pa);
    std::uint64_t new_task(std::int32_t pid, const std::string& comm, std::uint64_t mm_va);

    walker::SyntheticMemory& mem_;
    SyntheticKernelOptions options_;
    std::uint64_t image_pa_ = 0;
    std::uint64_t phys_base_ = 0;
    std::uint64_t kernel_root_ = 0;
    std::uint64_t init_task_va_ = 0;
    std::uint64_t banner_va_ = 0;
    std::uint64_t phys_base_va_ = 0;
    std::uint64_t page_offset_var_va_ = 0;
    std::uint64_t vmemmap_var_va_ = 0;
    std::uint64_t notes_start_va_ = 0;
    std::uint64_t notes_stop_va_ = 0;
    std::uint64_t vmemmap_pa_ = 0;
    std::uint64_t last_task_va_ = 0;
};

}  // namespace mvmm
