#include "fake_vm.hpp"

#include <thread>

#include <mvmm/common/strings.hpp>

namespace mvmm::scenario::fake {

FakeVm::FakeVm() {
    on("query-status", [](const json&, Deadline) {
        return json{{"running", true}, {"status", "running"}};
    });
    on("stop", [](const json&, Deadline) { return json::object(); });
    on("cont", [](const json&, Deadline) { return json::object(); });
    on("mshare-guest-exec", [this](const json& args, Deadline) {
        const std::lock_guard lock(mutex_);
        const auto path = args.value("path", std::string());
        const auto it = programs_.find(path);
        if (it == programs_.end()) {
            throw CommandFailed("GenericError", cat("guest-exec: ", path, ": No such file"));
        }
        if (it->second.on_start) {
            it->second.on_start(args);
        }
        const auto pid = next_pid_++;
        running_[pid] = Exec{it->second, 0};
        return json{{"exec-id", pid}};
    });
    on("mshare-guest-exec-status", [this](const json& args, Deadline) {
        const std::lock_guard lock(mutex_);
        const auto pid = args.value("exec-id", std::int64_t{-1});
        const auto it = running_.find(pid);
        if (it == running_.end()) {
            throw CommandFailed("GenericError", cat("no such process ", pid));
        }
        auto& e = it->second;
        if (e.program.never_exits || e.polls++ < e.program.polls_before_exit) {
            return json{{"exited", false}};
        }
        json reply = {{"exited", true}};
        if (e.program.signal) {
            reply["signal"] = *e.program.signal;
        } else {
            reply["exit-code"] = e.program.exit_code;
        }
        reply["stdout"] = e.program.out;
        reply["stderr"] = e.program.err;
        return reply;
    });
}

json FakeVm::execute(std::string_view command, const json& arguments, Deadline deadline) {
    Handler handler;
    {
        const std::lock_guard lock(mutex_);
        if (killed_) {
            throw Error("the VM is gone");
        }
        calls_.emplace_back(std::string(command), arguments);
        const auto it = handlers_.find(std::string(command));
        if (it == handlers_.end()) {
            throw CommandFailed("CommandNotFound",
                                cat("The command ", command, " has not been found"));
        }
        handler = it->second;
    }
    return handler(arguments, deadline);
}

std::optional<VmEvent> FakeVm::next_event(Deadline deadline) {
    std::unique_lock lock(mutex_);
    cv_.wait_until(lock, deadline, [this] { return !events_.empty() || killed_; });
    if (!events_.empty()) {
        auto e = std::move(events_.front());
        events_.pop_front();
        return e;
    }
    if (killed_) {
        throw Error("the VM is gone");
    }
    return std::nullopt;
}

std::string FakeVm::console_text() {
    const std::lock_guard lock(mutex_);
    return console_;
}

void FakeVm::kill() noexcept {
    {
        const std::lock_guard lock(mutex_);
        killed_ = true;
    }
    cv_.notify_all();
}

std::string FakeVm::shutdown(Deadline /*deadline*/) {
    const std::lock_guard lock(mutex_);
    shut_down_ = true;
    return killed_ ? "killed" : "quit";
}

void FakeVm::block(Deadline deadline) {
    std::unique_lock lock(mutex_);
    cv_.wait_until(lock, deadline, [this] { return killed_.load(); });
    if (killed_) {
        throw Error("the VM is gone");
    }
    throw TimedOut("no reply");
}

void FakeVm::on(const std::string& command, Handler handler) {
    const std::lock_guard lock(mutex_);
    handlers_[command] = std::move(handler);
}

void FakeVm::push_event(const std::string& name, json data) {
    {
        const std::lock_guard lock(mutex_);
        events_.push_back(VmEvent{name, std::move(data), 1.5});
    }
    cv_.notify_all();
}

void FakeVm::append_console(const std::string& text) {
    const std::lock_guard lock(mutex_);
    console_ += text;
}

void FakeVm::add_program(const std::string& path, FakeProgram program) {
    const std::lock_guard lock(mutex_);
    programs_[path] = std::move(program);
}

std::vector<std::string> FakeVm::commands() const {
    const std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& [c, a] : calls_) {
        out.push_back(c);
    }
    return out;
}

std::vector<json> FakeVm::arguments_of(const std::string& command) const {
    const std::lock_guard lock(mutex_);
    std::vector<json> out;
    for (const auto& [c, a] : calls_) {
        if (c == command) {
            out.push_back(a);
        }
    }
    return out;
}

// Forwards to a FakeVm the launcher keeps, so tests can inspect it after the run.
class FakeLauncher::Handle : public VmConnection {
  public:
    explicit Handle(std::shared_ptr<FakeVm> vm) : vm_(std::move(vm)) {}
    json execute(std::string_view command, const json& arguments, Deadline deadline) override {
        return vm_->execute(command, arguments, deadline);
    }
    std::optional<VmEvent> next_event(Deadline deadline) override {
        return vm_->next_event(deadline);
    }
    std::string console_text() override { return vm_->console_text(); }
    [[nodiscard]] std::filesystem::path console_log() const override { return vm_->console_log(); }
    void kill() noexcept override { vm_->kill(); }
    std::string shutdown(Deadline deadline) override { return vm_->shutdown(deadline); }

  private:
    std::shared_ptr<FakeVm> vm_;
};

std::unique_ptr<VmConnection> FakeLauncher::launch(const VmConfig& config,
                                                   const std::filesystem::path& /*work_dir*/,
                                                   Deadline /*deadline*/) {
    ++launches_;
    if (!fail_launch.empty()) {
        throw Error(fail_launch);
    }
    auto vm = std::make_shared<FakeVm>();
    setup_(*vm, config);
    {
        const std::lock_guard lock(mutex_);
        vms_.push_back(vm);
    }
    return std::make_unique<Handle>(vm);
}

std::vector<FakeVm*> FakeLauncher::vms() const {
    const std::lock_guard lock(mutex_);
    std::vector<FakeVm*> out;
    for (const auto& vm : vms_) {
        out.push_back(vm.get());
    }
    return out;
}

}  // namespace mvmm::scenario::fake
