// The real VM backend of the scenario runner: each launch starts its own
// `mshare-vmm run --config <work_dir>/vm.json` child process, with its own
// control socket and console log, and talks to it through the control
// socket (QmpClient, docs/control-protocol.md).
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <mvmm/common/runtime_dir.hpp>
#include <mvmm/scenario/vm_backend.hpp>

namespace mvmm::scenario {

struct ProcessVmOptions {
    std::filesystem::path vmm_binary;     // the mshare-vmm to start
    std::vector<std::string> extra_args;  // after "run --config FILE"
};

// Thread-safe: scenarios running in parallel launch through one launcher.
class ProcessVmLauncher : public VmLauncher {
  public:
    explicit ProcessVmLauncher(ProcessVmOptions options);
    ProcessVmLauncher(const ProcessVmLauncher&) = delete;
    ProcessVmLauncher& operator=(const ProcessVmLauncher&) = delete;
    ~ProcessVmLauncher() override;

    // Writes <work_dir>/vm.json (the config, with this VM's control socket
    // and <work_dir>/console.log), starts the VMM with its output in
    // <work_dir>/vmm.log, and waits until its control socket answers. Throws
    // Error with the end of vmm.log if the VMM exits first.
    std::unique_ptr<VmConnection> launch(const VmConfig& config,
                                         const std::filesystem::path& work_dir,
                                         Deadline deadline) override;

    // Kills every VMM this launcher started that is still running (for an
    // interrupted run); their scenarios then fail with "the VM was killed".
    // Async-signal context is not needed: call it from a normal thread.
    void kill_all() noexcept;

    class Child;  // one started VMM (process_vm.cpp)

  private:
    ProcessVmOptions options_;
    RuntimeDir runtime_;  // short paths for the sockets (sun_path is 108 bytes)
    std::atomic<unsigned> next_{0};
    std::mutex mutex_;
    std::vector<std::weak_ptr<Child>> children_;
};

// The config file a launch writes: `config` with the given socket and
// console log, the console not echoed, paths absolute.
nlohmann::json child_config(const VmConfig& config, const std::filesystem::path& control_socket,
                            const std::filesystem::path& console_log);

}  // namespace mvmm::scenario
