// A scripted VM for runner tests: no boot, no process. Commands are answered
// by handlers; events, console text and guest programs are set up by the test.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <mvmm/scenario/vm_backend.hpp>

namespace mvmm::scenario::fake {

using nlohmann::json;

// A program the fake guest agent can run.
struct FakeProgram {
    int exit_code = 0;
    std::optional<int> signal;
    std::string out;
    std::string err;
    int polls_before_exit = 1;  // guest-exec-status calls that still say "running"
    bool never_exits = false;
    std::function<void(const json& args)> on_start;  // sees guest-exec's arguments
};

class FakeVm : public VmConnection {
  public:
    using Handler = std::function<json(const json& args, Deadline deadline)>;

    FakeVm();

    json execute(std::string_view command, const json& arguments, Deadline deadline) override;
    std::optional<VmEvent> next_event(Deadline deadline) override;
    std::string console_text() override;
    [[nodiscard]] std::filesystem::path console_log() const override { return "/fake/console.log"; }
    void kill() noexcept override;
    std::string shutdown(Deadline deadline) override;

    // Waits until the VM is killed (throws Error) or the deadline (throws TimedOut).
    void block(Deadline deadline);

    void on(const std::string& command, Handler handler);
    void push_event(const std::string& name, json data = json::object());
    void append_console(const std::string& text);
    void add_program(const std::string& path, FakeProgram program);

    // What happened, for assertions.
    std::vector<std::string> commands() const;
    std::vector<json> arguments_of(const std::string& command) const;
    bool killed() const { return killed_; }
    bool shut_down() const { return shut_down_; }

  private:
    struct Exec {
        FakeProgram program;
        int polls = 0;
    };

    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::map<std::string, Handler> handlers_;
    std::deque<VmEvent> events_;
    std::string console_;
    std::map<std::string, FakeProgram> programs_;
    std::map<std::int64_t, Exec> running_;
    std::int64_t next_pid_ = 100;
    std::vector<std::pair<std::string, json>> calls_;
    std::atomic<bool> killed_{false};
    bool shut_down_ = false;
};

// Makes a FakeVm per launch and lets the test script it.
class FakeLauncher : public VmLauncher {
  public:
    using Setup = std::function<void(FakeVm& vm, const VmConfig& config)>;

    explicit FakeLauncher(Setup setup) : setup_(std::move(setup)) {}

    std::unique_ptr<VmConnection> launch(const VmConfig& config,
                                         const std::filesystem::path& work_dir,
                                         Deadline deadline) override;

    // The VMs launched so far (owned by the runner; valid while it runs and
    // kept alive here afterwards).
    std::vector<FakeVm*> vms() const;
    std::string fail_launch;  // if set, launch throws Error with this text
    int launches() const { return launches_; }

  private:
    class Handle;
    Setup setup_;
    mutable std::mutex mutex_;
    std::vector<std::shared_ptr<FakeVm>> vms_;
    std::atomic<int> launches_{0};
};

}  // namespace mvmm::scenario::fake
