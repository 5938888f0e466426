// `mshare-vmm ctl`: the command-line client of the control socket. Readable
// tables by default, JSON with --json, a watch mode for the accounting view.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>

namespace mvmm::app {

class CtlCommand {
  public:
    // Adds the "ctl" subcommand and its own subcommands to `parent`.
    explicit CtlCommand(CLI::App& parent);
    CtlCommand(const CtlCommand&) = delete;
    CtlCommand& operator=(const CtlCommand&) = delete;
    ~CtlCommand();

    [[nodiscard]] bool selected() const;
    // Runs the parsed command. Returns the exit status: 0 on success, 1 on an
    // error reply or a failed connection (after saying why on stderr); `exec`
    // returns the guest program's status.
    int run();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace mvmm::app
