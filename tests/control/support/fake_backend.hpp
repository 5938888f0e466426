// A deterministic backend for the control server's tests and for replaying
// the examples of docs/control-protocol.md: every part present, fixed data,
// and the engine's events emulated (stop -> STOP, cont -> RESUME, quit ->
// SHUTDOWN).
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>

#include <mvmm/control/backend.hpp>
#include <mvmm/protocol/error_class.hpp>

namespace mvmm::control::test {

class FakeBackend final : public VmControl,
                          public KvmControl,
                          public IntrospectionControl,
                          public AgentControl {
  public:
    using nlohmann_json = nlohmann::json;
    using EventSink = std::function<void(const EngineEvent&)>;

    ControlBackend backend() { return {this, this, this, this}; }
    void set_event_sink(EventSink sink) {
        const std::lock_guard lock(mutex_);
        sink_ = std::move(sink);
    }

    // Knobs for tests.
    void set_kvm(bool available) { kvm_available_ = available; }
    void set_agent_connected(bool connected) { agent_connected_ = connected; }
    void set_state(RunState state) {
        const std::lock_guard lock(mutex_);
        state_ = state;
    }
    // While held, accounting() blocks (to test clients that leave mid-command).
    void hold_accounting(bool hold) {
        {
            const std::lock_guard lock(mutex_);
            hold_ = hold;
        }
        cv_.notify_all();
    }
    // Counts accounting() calls that have started (to wait for one).
    int accounting_started() {
        const std::lock_guard lock(mutex_);
        return accounting_started_;
    }
    int quit_calls() {
        const std::lock_guard lock(mutex_);
        return quit_calls_;
    }
    int pause_calls() {
        const std::lock_guard lock(mutex_);
        return pause_calls_;
    }

    // VmControl
    RunState run_state() override {
        const std::lock_guard lock(mutex_);
        return state_;
    }
    nlohmann::json engine_info() override {
        return {{"engine", kvm_available_ ? "kvm" : "qemu"},
                {"reason", kvm_available_ ? "engine 'kvm' requested in the config"
                                          : "auto: KVM here cannot run guest user space "
                                            "(no VT-x/AMD-V); using QEMU TCG"},
                {"vcpus", 2}};
    }
    void pause() override {
        transition(RunState::paused, EngineEvent::Kind::stop, "");
        const std::lock_guard lock(mutex_);
        ++pause_calls_;
    }
    void resume() override { transition(RunState::running, EngineEvent::Kind::resume, ""); }
    void quit() override {
        {
            const std::lock_guard lock(mutex_);
            ++quit_calls_;
        }
        transition(RunState::shutdown, EngineEvent::Kind::shutdown, "host-qmp-quit");
    }
    ConsoleTail console_tail(std::size_t lines) override {
        static const std::vector<std::string> kLines{
            "[    1.912345] Run /init as init process",
            "mshare-vmm: boot complete",
            "mshare-agent: listening on /dev/ttyS1",
        };
        ConsoleTail tail;
        tail.bytes_total = 18342;
        const std::size_t skip = kLines.size() > lines ? kLines.size() - lines : 0;
        tail.lines.assign(kLines.begin() + static_cast<std::ptrdiff_t>(skip), kLines.end());
        return tail;
    }

    // KvmControl
    nlohmann::json statistics() override {
        need_kvm();
        return nlohmann::json::parse(R"({
          "vm": [
            {"name": "pages_4k", "value": 24310, "type": "instant", "unit": "none", "exponent": 0},
            {"name": "pages_2m", "value": 0, "type": "instant", "unit": "none", "exponent": 0},
            {"name": "pages_1g", "value": 0, "type": "instant", "unit": "none", "exponent": 0},
            {"name": "remote_tlb_flush", "value": 311, "type": "cumulative", "unit": "none",
             "exponent": 0}
          ],
          "vcpus": [
            {"index": 0, "stats": [
              {"name": "pf_taken", "value": 90211, "type": "cumulative", "unit": "none",
               "exponent": 0},
              {"name": "exits", "value": 402113, "type": "cumulative", "unit": "none",
               "exponent": 0}]}
          ],
          "second-level": {"pages-4k": 24310, "pages-2m": 0, "pages-1g": 0,
                           "mapped-bytes": 99573760}
        })");
    }
    void dirty_log_mark() override {
        need_kvm();
        const std::lock_guard lock(mutex_);
        marked_ = true;
    }
    nlohmann::json dirty_log_collect() override {
        need_kvm();
        const std::lock_guard lock(mutex_);
        if (!marked_) {
            throw protocol::CommandError(protocol::ErrorClass::generic_error,
                                         "no dirty-log interval: run mshare-dirty-log-mark first");
        }
        return {{"count", 3}, {"pfns", {4096, 4097, 8210}}};
    }

    // IntrospectionControl
    nlohmann::json processes() override {
        return nlohmann::json::parse(R"({"processes": [
            {"pid": 1, "comm": "init", "mm": "0xffff888002a1c000", "pgd": "0x2a20000"},
            {"pid": 57, "comm": "mshare-agent", "mm": "0xffff888002a1d400", "pgd": "0x2b44000"},
            {"pid": 60, "comm": "ptbench", "mm": "0xffff888002a1e800", "pgd": "0x2c10000"},
            {"pid": 61, "comm": "ptbench", "mm": "0xffff888002a1f000", "pgd": "0x2c18000"}
        ]})");
    }
    nlohmann::json page_tables(std::uint64_t pid) override {
        if (pid != 60) {
            throw protocol::CommandError(protocol::ErrorClass::device_not_found,
                                         "no process with pid " + std::to_string(pid));
        }
        return nlohmann::json::parse(R"({
          "pid": 60, "comm": "ptbench", "pgd": "0x2c10000",
          "levels": [
            {"level": "pgd", "tables": 1, "own": 1, "shared": 0},
            {"level": "pud", "tables": 2, "own": 1, "shared": 1},
            {"level": "pmd", "tables": 3, "own": 2, "shared": 1},
            {"level": "pte", "tables": 516, "own": 4, "shared": 512}
          ],
          "own-bytes": 32768, "shared-bytes": 2109440, "table-bytes": 2142208,
          "mapped-bytes": 1075838976, "walked-vm-pte-bytes": 28672, "kernel-vm-pte-bytes": 28672
        })");
    }
    nlohmann::json mshare_regions() override {
        return nlohmann::json::parse(R"({
          "regions": [
            {"start": "0x8000000000", "size": 549755813888, "host-mm-pgd": "0x30f8000",
             "mapped-bytes": 1073741824, "resident-pages": 262144, "table-bytes": 2105344,
             "sharers": [60, 61], "consistent": true}
          ],
          "shared-puds": [
            {"table": "0x3100000", "host-mm-pgd": "0x30f8000", "sharers": [60, 61],
             "task-roots": 2, "share-count": 2, "consistent": true,
             "pmd-tables": 1, "pte-tables": 512, "pages": 262144}
          ],
          "consistent": true
        })");
    }
    nlohmann::json accounting() override {
        {
            std::unique_lock lock(mutex_);
            ++accounting_started_;
            cv_.wait(lock, [this] { return !hold_; });
        }
        return nlohmann::json::parse(R"({
          "processes": [
            {"pid": 60, "comm": "ptbench", "own-bytes": 32768, "shared-bytes": 2109440,
             "vm-pte-bytes": 28672, "walked-vm-pte-bytes": 28672, "kernel-vm-pte-bytes": 28672},
            {"pid": 61, "comm": "ptbench", "own-bytes": 32768, "shared-bytes": 2109440,
             "vm-pte-bytes": 28672, "walked-vm-pte-bytes": 28672, "kernel-vm-pte-bytes": 28672}
          ],
          "totals": {
            "walked-bytes": 2248704, "comparable-bytes": 2232320,
            "expected-page-tables-bytes": 2535424, "page-tables-low-bytes": 2232320,
            "page-tables-high-bytes": 2535424, "guest-page-tables-bytes": 2535424,
            "within-tolerance": true,
            "unshared-bytes": 4358144, "savings-bytes": 2109440, "savings-ratio": 0.484
          },
          "host": {"guest-ram-resident-bytes": 150994944, "vmm-vm-pte-bytes": 1658880},
          "kvm": {"pages-4k": 24310, "pages-2m": 0, "pages-1g": 0,
                  "second-level-table-bytes": 393216},
          "pause-seconds": 0.0042, "live": false, "anomalies": 0,
          "walk": {"seconds": 0.00061, "analysis-seconds": 0.0391,
                   "table-bytes-per-second": 3686400000, "guest-collect-seconds": 0.0273}
        })");
    }

    // AgentControl
    std::uint64_t exec(const ExecRequest& request) override {
        need_agent();
        const std::lock_guard lock(mutex_);
        std::string out;
        for (const auto& arg : request.args) {
            out += (out.empty() ? "" : " ") + arg;
        }
        execs_[next_exec_] = {request.path, out};
        return next_exec_++;
    }
    nlohmann::json exec_status(std::uint64_t exec_id) override {
        need_agent();
        const std::lock_guard lock(mutex_);
        const auto it = execs_.find(exec_id);
        if (it == execs_.end()) {
            throw protocol::CommandError(protocol::ErrorClass::generic_error,
                                         "no exec with id " + std::to_string(exec_id));
        }
        // Like a program that printed its arguments: /bin/false fails.
        const bool fails = it->second.first == "/bin/false";
        return {{"exited", true},
                {"exit-code", fails ? 1 : 0},
                {"stdout", fails ? "" : it->second.second + "\n"},
                {"stderr", ""}};
    }
    nlohmann::json meminfo() override {
        need_agent();
        return {{"MemTotal", 503316480},
                {"MemFree", 401604608},
                {"MemAvailable", 442499072},
                {"Shmem", 1097728},
                {"PageTables", 2535424}};
    }

  private:
    void transition(RunState to, EngineEvent::Kind kind, std::string reason) {
        EventSink sink;
        {
            const std::lock_guard lock(mutex_);
            state_ = to;
            sink = sink_;
        }
        if (sink) {
            EngineEvent event;
            event.kind = kind;
            event.reason = std::move(reason);
            sink(event);
        }
    }
    void need_kvm() const {
        if (!kvm_available_) {
            throw protocol::CommandError(
                protocol::ErrorClass::kvm_missing_cap,
                "the qemu engine has no KVM statistics or dirty log: auto: KVM here cannot run "
                "guest user space (no VT-x/AMD-V); using QEMU TCG");
        }
    }
    void need_agent() const {
        if (!agent_connected_) {
            throw protocol::CommandError(protocol::ErrorClass::device_not_active,
                                         "the guest agent is not connected");
        }
    }

    std::mutex mutex_;
    std::condition_variable cv_;
    EventSink sink_;
    RunState state_ = RunState::running;
    std::atomic<bool> kvm_available_{true};
    std::atomic<bool> agent_connected_{true};
    bool marked_ = false;
    bool hold_ = false;
    int accounting_started_ = 0;
    int quit_calls_ = 0;
    int pause_calls_ = 0;
    std::uint64_t next_exec_ = 1;
    std::map<std::uint64_t, std::pair<std::string, std::string>> execs_;
};

}  // namespace mvmm::control::test
