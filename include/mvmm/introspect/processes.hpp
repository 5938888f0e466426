// Processes read from guest memory: the kernel's task list (init_task.tasks),
// walked with bounds and link checks, reduced to one entry per mm.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <mvmm/introspect/guest_kernel.hpp>

namespace mvmm {

struct GuestProcess {
    std::vector<std::int32_t> pids;              // every task on the list with this mm
    std::int32_t tgid = 0;                       // of the first task
    std::string comm;                            // of the first task
    std::uint64_t task = 0;                      // kernel address of the first task_struct
    std::uint64_t mm = 0;                        // kernel address of the mm_struct
    std::uint64_t pgd = 0;                       // mm->pgd (kernel address)
    std::uint64_t root = 0;                      // physical address of the top-level table
    std::optional<std::int64_t> pgtables_bytes;  // mm->pgtables_bytes, the kernel's VmPTE
};

struct ProcessListLimits {
    std::size_t max_tasks = 1U << 20;
};

struct ProcessList {
    std::vector<GuestProcess> processes;  // one per mm, in task-list order
    std::size_t tasks = 0;                // tasks visited, init_task included
    std::size_t kernel_threads = 0;       // tasks without an mm
    bool complete = true;                 // the list led back to init_task
    std::vector<std::string> problems;    // why it is incomplete, bad tasks skipped, ...
};

// Walks init_task.tasks. Never throws for bad guest data: a broken link, a
// loop, an address that is not mapped or a list longer than the limit ends
// the walk and is reported in `problems`.
ProcessList list_processes(const GuestKernel& kernel, const ProcessListLimits& limits = {});

}  // namespace mvmm
