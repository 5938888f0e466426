// The progress display of `mshare-vmm scenario`: one line per scenario and
// step with the elapsed time. On a terminal, results are coloured and a
// status line shows what each running scenario is doing; otherwise (CI logs)
// the output is plain lines only.
#pragma once

#include <cstdio>
#include <memory>

#include <mvmm/scenario/runner.hpp>

namespace mvmm::scenario {

// Writes to `out` (not owned). `terminal`: colours and a live status line.
std::unique_ptr<ProgressSink> make_console_progress(std::FILE* out, bool terminal);

}  // namespace mvmm::scenario
