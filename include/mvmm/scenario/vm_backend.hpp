// What the scenario runner needs of a VM: a running guest it can send
// control-socket commands to, read events and console output from, and end.
// ProcessVmLauncher (process_vm.hpp) starts `mshare-vmm run` children; the
// unit tests use a scripted fake.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include <mvmm/common/error.hpp>
#include <mvmm/config/vm_config.hpp>

namespace mvmm::scenario {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

// An error reply to a control command: {"error": {"class": ..., "desc": ...}}.
class CommandFailed : public Error {
  public:
    CommandFailed(std::string error_class, const std::string& desc)
        : Error(desc), class_(std::move(error_class)) {}
    [[nodiscard]] const std::string& error_class() const noexcept { return class_; }

  private:
    std::string class_;
};

// A deadline passed while waiting for the VM.
class TimedOut : public Error {
  public:
    using Error::Error;
};

struct VmEvent {
    std::string name;
    nlohmann::json data = nlohmann::json::object();
    double timestamp = 0;  // seconds since the epoch, from the event
};

class VmConnection {
  public:
    virtual ~VmConnection() = default;

    // Runs a control command and returns its "return" value. Throws
    // CommandFailed on an error reply, TimedOut at the deadline, and Error
    // when the VM is gone.
    virtual nlohmann::json execute(std::string_view command, const nlohmann::json& arguments,
                                   Deadline deadline) = 0;

    // The next event, in arrival order (events that arrived during execute()
    // included); nullopt once the deadline passes. Throws Error when the VM is
    // gone and no event is left.
    virtual std::optional<VmEvent> next_event(Deadline deadline) = 0;

    // Everything the guest wrote to its console so far.
    virtual std::string console_text() = 0;

    // Where the console log file is, for reports ("" if none).
    [[nodiscard]] virtual std::filesystem::path console_log() const = 0;

    // Ends the VM at once. Thread-safe and idempotent; a blocked execute() or
    // next_event() returns with an Error.
    virtual void kill() noexcept = 0;

    // Ends the VM in order (quit, then kill if it does not end by the
    // deadline). Returns a short description of how it ended, e.g.
    // "exited with status 0".
    virtual std::string shutdown(Deadline deadline) = 0;
};

class VmLauncher {
  public:
    virtual ~VmLauncher() = default;

    // Starts a VM with `config` and connects to it. `work_dir` is the
    // scenario's own folder for logs; it exists. Throws Error (with the VMM's
    // own output when it failed to start) or TimedOut.
    virtual std::unique_ptr<VmConnection> launch(const VmConfig& config,
                                                 const std::filesystem::path& work_dir,
                                                 Deadline deadline) = 0;
};

}  // namespace mvmm::scenario
