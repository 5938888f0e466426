// make_engine(): decides between the engines and labels the result with the
// reason, so logs and query-status can show why this engine runs the VM.
#include <mvmm/common/log.hpp>
#include <mvmm/engine/factory.hpp>
#include <mvmm/engine_select/decision.hpp>

namespace mvmm {
namespace {

// An engine as make_engine() chose it: every call goes to the engine itself,
// except selection_reason().
class SelectedEngine final : public Engine {
  public:
    SelectedEngine(std::unique_ptr<Engine> engine, std::string reason)
        : engine_(std::move(engine)), reason_(std::move(reason)) {}

    [[nodiscard]] std::string_view name() const override { return engine_->name(); }
    [[nodiscard]] std::string selection_reason() const override { return reason_; }
    void set_event_handler(EventHandler handler) override {
        engine_->set_event_handler(std::move(handler));
    }
    void start() override { engine_->start(); }
    void pause() override { engine_->pause(); }
    void resume() override { engine_->resume(); }
    void stop() override { engine_->stop(); }
    RunState wait() override { return engine_->wait(); }
    [[nodiscard]] RunState state() const override { return engine_->state(); }
    [[nodiscard]] const PhysView& memory() const override { return engine_->memory(); }
    [[nodiscard]] unsigned vcpu_count() const override { return engine_->vcpu_count(); }
    [[nodiscard]] SpecialRegisters special_registers(unsigned vcpu) override {
        return engine_->special_registers(vcpu);
    }
    [[nodiscard]] KvmView* kvm() override { return engine_->kvm(); }
    [[nodiscard]] std::string kvm_absent_reason() const override {
        return engine_->kvm_absent_reason();
    }

  private:
    std::unique_ptr<Engine> engine_;
    std::string reason_;
};

std::optional<KvmHostCheck> host_check_if_needed(EngineChoice requested) {
    if (requested == EngineChoice::qemu) {
        return std::nullopt;  // not needed
    }
#if MVMM_HAVE_KVM_ENGINE
    return check_kvm_host();
#else
    return std::nullopt;
#endif
}

}  // namespace

std::unique_ptr<Engine> make_engine(const EngineSetup& setup) {
    const auto requested = setup.config.engine;
    const auto decision =
        decide_engine(requested, host_check_if_needed(requested), setup.config.qemu.accel,
                      setup.allow_kvm_without_user_space || kvm_forced_by_environment());
    log::info("engine", "using the ", decision.engine == EngineChoice::kvm ? "KVM" : "QEMU",
              " engine: ", decision.reason);
    std::unique_ptr<Engine> engine;
#if MVMM_HAVE_KVM_ENGINE
    if (decision.engine == EngineChoice::kvm) {
        engine = make_kvm_engine(setup);
    }
#endif
    if (!engine) {
        engine = make_qemu_engine(setup);
    }
    return std::make_unique<SelectedEngine>(std::move(engine), decision.reason);
}

}  // namespace mvmm
