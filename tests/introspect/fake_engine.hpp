// An Engine over synthetic guest memory for introspection tests: counts
// pauses and resumes, reads vCPU 0's registers (vCPU 1's throw), and has a
// KVM view only when a test gives it one.
#pragma once

#include <nlohmann/json.hpp>

#include <mvmm/common/error.hpp>
#include <mvmm/engine/engine.hpp>

namespace mvmm::test {

class FakeKvm : public KvmView {
  public:
    nlohmann::json statistics() override {
        return {{"vm",
                 {{{"name", "pages_4k"}, {"value", 1000}, {"unit", "none"}, {"type", "instant"}},
                  {{"name", "pages_2m"}, {"value", 3}, {"unit", "none"}, {"type", "instant"}},
                  {{"name", "pages_1g"}, {"value", 0}, {"unit", "none"}, {"type", "instant"}}}},
                {"vcpus", nlohmann::json::array()}};
    }
    void dirty_log_mark() override { ++marks; }
    std::vector<std::uint64_t> dirty_log_collect() override { return dirty; }
    int marks = 0;
    std::vector<std::uint64_t> dirty;
};

class FakeEngine : public Engine {
  public:
    FakeEngine(const PhysView& memory, SpecialRegisters regs) : memory_(memory), regs_(regs) {}
    std::string_view name() const override { return kvm_ != nullptr ? "kvm" : "qemu"; }
    std::string selection_reason() const override { return "test"; }
    void set_event_handler(EventHandler /*handler*/) override {}
    void start() override { state_ = RunState::running; }
    void pause() override {
        ++pauses;
        state_ = RunState::paused;
    }
    void resume() override {
        ++resumes;
        state_ = RunState::running;
    }
    void stop() override { state_ = RunState::shutdown; }
    RunState wait() override { return state_; }
    RunState state() const override { return state_; }
    const PhysView& memory() const override {
        memory_reads_while_running += state_ == RunState::running ? 1 : 0;
        return memory_;
    }
    unsigned vcpu_count() const override { return 2; }
    SpecialRegisters special_registers(unsigned vcpu) override {
        if (vcpu == 1) {
            throw Error("vcpu 1: registers unavailable in this test");
        }
        return regs_;
    }
    KvmView* kvm() override { return kvm_; }
    std::string kvm_absent_reason() const override {
        return kvm_ != nullptr ? "" : "the QEMU engine runs TCG; KVM statistics do not exist";
    }

    int pauses = 0;
    int resumes = 0;
    mutable int memory_reads_while_running = 0;
    KvmView* kvm_ = nullptr;
    RunState state_ = RunState::running;

  private:
    const PhysView& memory_;
    SpecialRegisters regs_;
};

}  // namespace mvmm::test
