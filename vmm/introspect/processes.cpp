#include <array>
#include <unordered_map>
#include <unordered_set>

#include <mvmm/common/strings.hpp>
#include <mvmm/introspect/processes.hpp>

namespace mvmm {
namespace {

constexpr std::size_t kCommBytes = 16;  // TASK_COMM_LEN
constexpr std::size_t kMaxProblems = 32;

std::string clean_comm(const std::array<char, kCommBytes>& raw) {
    std::string out;
    for (const char c : raw) {
        if (c == '\0') {
            break;
        }
        const auto u = static_cast<unsigned char>(c);
        out += (u < 0x20 || u >= 0x7f) ? '?' : c;
    }
    return out;
}

}  // namespace

ProcessList list_processes(const GuestKernel& kernel, const ProcessListLimits& limits) {
    const auto& off = kernel.profile().offsets;
    const auto init_task = kernel.profile().require_symbol("init_task");
    const std::uint64_t head = init_task + off.task_tasks;

    ProcessList out;
    const auto problem = [&](std::string text) {
        if (out.problems.size() < kMaxProblems) {
            out.problems.push_back(std::move(text));
        }
    };
    std::unordered_map<std::uint64_t, std::size_t> by_mm;
    std::unordered_set<std::uint64_t> seen;

    std::uint64_t task = init_task;
    while (true) {
        if (out.tasks >= limits.max_tasks) {
            out.complete = false;
            problem(cat("task list longer than ", limits.max_tasks, " tasks; stopped"));
            break;
        }
        ++out.tasks;
        const auto pid = kernel.read_as<std::int32_t>(task + off.task_pid);
        const auto tgid = kernel.read_as<std::int32_t>(task + off.task_tgid);
        const auto mm = kernel.read_as<std::uint64_t>(task + off.task_mm);
        std::array<char, kCommBytes> comm_raw{};
        const bool comm_ok =
            kernel.read(task + off.task_comm, std::as_writable_bytes(std::span(comm_raw)));
        if (!pid || !tgid || !mm || !comm_ok) {
            problem(cat("task at ", hex(task), ": task_struct is not readable; skipped"));
        } else if (*mm == 0) {
            ++out.kernel_threads;
        } else if (const auto it = by_mm.find(*mm); it != by_mm.end()) {
            out.processes[it->second].pids.push_back(*pid);
        } else {
            GuestProcess p;
            p.pids.push_back(*pid);
            p.tgid = *tgid;
            p.comm = clean_comm(comm_raw);
            p.task = task;
            p.mm = *mm;
            const auto pgd = kernel.read_as<std::uint64_t>(*mm + off.mm_pgd);
            const auto root = pgd ? kernel.to_phys(*pgd) : std::nullopt;
            if (!pgd || !root || kernel.memory().page(*root).empty()) {
                problem(cat("pid ", *pid, " (", p.comm, "): mm ", hex(*mm),
                            " has no readable top-level table; skipped"));
            } else {
                p.pgd = *pgd;
                p.root = *root;
                p.pgtables_bytes = kernel.read_as<std::int64_t>(*mm + off.mm_pgtables_bytes);
                by_mm.emplace(*mm, out.processes.size());
                out.processes.push_back(std::move(p));
            }
        }

        // Follow tasks.next, checking that next->prev leads back to us.
        const auto link = task + off.task_tasks;
        const auto next = kernel.read_as<std::uint64_t>(link);
        if (!next) {
            out.complete = false;
            problem(cat("task at ", hex(task), ": tasks.next is not readable; list ends here"));
            break;
        }
        if (*next == head) {
            break;
        }
        const auto back = kernel.read_as<std::uint64_t>(*next + 8);
        if (!back || *back != link) {
            out.complete = false;
            problem(cat("task at ", hex(task), ": tasks.next ", hex(*next),
                        " does not point back (prev ",
                        back ? hex(*back) : std::string("unreadable"),
                        "); the list changed or is corrupt"));
            break;
        }
        if (*next < off.task_tasks || !seen.insert(*next).second) {
            out.complete = false;
            problem(cat("task list loops at ", hex(*next), " without reaching init_task"));
            break;
        }
        task = *next - off.task_tasks;
    }
    return out;
}

}  // namespace mvmm
