#include "kvm_engine.hpp"

#include <algorithm>
#include <array>
#include <csignal>
#include <cstring>

#include <mvmm/common/error.hpp>
#include <mvmm/common/log.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/devices/cmos_rtc.hpp>
#include <mvmm/devices/i8042.hpp>
#include <mvmm/devices/marker_port.hpp>
#include <mvmm/devices/null_device.hpp>
#include <mvmm/devices/pvpanic_port.hpp>
#include <mvmm/guest_abi.h>
#include <mvmm/kvm/kernel_cmdline.hpp>
#include <mvmm/loader/boot_layout.hpp>
#include <mvmm/loader/loader.hpp>
#include <mvmm/loader/long_mode.hpp>

#include "vcpu_kick.hpp"
#include "vcpu_setup.hpp"

namespace mvmm::kvm {
namespace {

// Addresses KVM on Intel needs for its real-mode TSS and identity map: three
// pages and one page just below the BIOS area at the top of the 32-bit hole.
constexpr std::uint64_t kTssAddress = 0xfffbd000;
constexpr std::uint64_t kIdentityMapAddress = 0xfffbc000;

constexpr std::string_view kPanicLine = "Kernel panic - not syncing";
constexpr std::string_view kPanicEndLine = "---[ end Kernel panic";
constexpr std::size_t kMaxConsoleLine = 4096;

std::string hex_bytes(std::span<const std::uint8_t> bytes) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (auto b : bytes) {
        if (!out.empty()) {
            out += ' ';
        }
        out += digits[b >> 4];
        out += digits[b & 15];
    }
    return out;
}

}  // namespace

KvmEngine::KvmEngine(const EngineSetup& setup, std::string selection_reason, bool emulated_cpl0)
    : config_(setup.config),
      console_(setup.console),
      runtime_dir_(setup.runtime_dir),
      selection_reason_(std::move(selection_reason)),
      emulated_cpl0_(emulated_cpl0),
      cmdline_(kvm_kernel_cmdline(emulated_cpl0, setup.config.cmdline)) {}

KvmEngine::~KvmEngine() {
    stop();
    threads_.clear();  // joins
    agent_.reset();
}

void KvmEngine::set_event_handler(EventHandler handler) {
    const std::lock_guard lock(mutex_);
    handler_ = std::move(handler);
}

void KvmEngine::emit(const EngineEvent& event) {
    EventHandler handler;
    {
        const std::lock_guard lock(mutex_);
        handler = handler_;
    }
    if (handler) {
        handler(event);
    }
}

// ---------------------------------------------------------------------------
// Set-up

void KvmEngine::create_vm() {
    system_.emplace();
    vm_.emplace(*system_);
    checked_ioctl(vm_->fd(), KVM_SET_TSS_ADDR, static_cast<unsigned long>(kTssAddress),
                  "KVM_SET_TSS_ADDR");
    const std::uint64_t identity = kIdentityMapAddress;
    checked_ioctl(vm_->fd(), KVM_SET_IDENTITY_MAP_ADDR, &identity, "KVM_SET_IDENTITY_MAP_ADDR");
    checked_ioctl(vm_->fd(), KVM_CREATE_IRQCHIP, 0UL, "KVM_CREATE_IRQCHIP");
    kvm_pit_config pit{};
    pit.flags = KVM_PIT_SPEAKER_DUMMY;
    checked_ioctl(vm_->fd(), KVM_CREATE_PIT2, &pit, "KVM_CREATE_PIT2");

    ram_.emplace(config_.memory_mib * kMiB, cat("mshare-vmm-", config_.name));
    const auto& ranges = ram_->layout().ranges();
    slot_flags_.assign(ranges.size(), 0);
    for (std::size_t i = 0; i < ranges.size(); ++i) {
        vm_->set_memory_region(static_cast<std::uint32_t>(i), 0, ranges[i].gpa, ranges[i].size,
                               ram_->range_host_base(ranges[i]));
    }
    vm_stats_ = std::make_unique<BinaryStats>(vm_->stats_fd(), "VM");
}

void KvmEngine::create_devices() {
    auto irq = [this](unsigned line) {
        return [this, line](bool level) {
            try {
                vm_->irq_line(line, level);
            } catch (const Error& e) {
                log::error("kvm", "IRQ ", line, ": ", e.what());
            }
        };
    };
    com1_ = std::make_shared<Serial8250>(
        "COM1", irq(uart::kCom1Irq), [this](std::span<const std::uint8_t> b) { on_console(b); });
    const auto agent_path =
        config_.agent_socket.empty() ? runtime_dir_ / "agent.sock" : config_.agent_socket;
    agent_ = std::make_unique<SerialSocketBridge>(agent_path);
    com2_ = std::make_shared<Serial8250>(
        "COM2", irq(uart::kCom2Irq),
        [this](std::span<const std::uint8_t> b) { agent_->guest_output(b); });

    pio_.add(uart::kCom1Port, uart::kRegisters, com1_, "COM1");
    pio_.add(uart::kCom2Port, uart::kRegisters, com2_, "COM2");
    I8042::attach(pio_, std::make_shared<I8042>([this] { guest_reset("guest-reset"); }));
    pio_.add(MVMM_MARKER_PORT, 1,
             std::make_shared<MarkerPort>([this](std::uint8_t b) { on_marker(b); }), "marker");
    pio_.add(MVMM_PVPANIC_PORT, 1, std::make_shared<PvPanicPort>([this](std::uint8_t e) {
                 if ((e & PvPanicPort::kPanicked) != 0) {
                     guest_panicked("pvpanic", cat("pvpanic event ", hex(e)));
                     end_guest(RunState::guest_panicked,
                               {EngineEvent::Kind::shutdown, "guest-panic", {{"guest", true}}});
                 }
             }),
             "pvpanic");
    pio_.add(CmosRtc::kPort, 2, std::make_shared<CmosRtc>(), "CMOS RTC");
    pio_.add(0x80, 1, std::make_shared<NullDevice>(0), "POST port");
    agent_->start(*com2_);
}

void KvmEngine::create_vcpus() {
    const auto supported = system_->supported_cpuid();
    const auto mmap_size = system_->vcpu_mmap_size();
    for (unsigned i = 0; i < config_.vcpus; ++i) {
        auto slot = std::make_unique<Vcpu>();
        slot->handle = std::make_unique<kvm::Vcpu>(*vm_, i, mmap_size);
        const auto& vcpu = *slot->handle;
        vcpu.set_cpuid(build_vcpu_cpuid(supported, i, config_.vcpus));
        set_boot_msrs(vcpu);
        set_boot_fpu(vcpu);
        set_boot_lapic(vcpu);
        slot->stats = std::make_unique<BinaryStats>(vcpu.stats_fd(), cat("vCPU ", i));
        vcpus_.push_back(std::move(slot));
    }
}

void KvmEngine::start() {
    {
        const std::lock_guard lock(mutex_);
        if (state_ != RunState::prelaunch || ended_) {
            throw Error("KVM engine: start() was called on a VM that already started");
        }
    }
    since_start_.restart();
    (void)kick_signal();
    create_vm();
    const auto kernel = KernelImage::load(config_.kernel);
    BootRequest request;
    request.cmdline = cmdline_;
    request.initrd = config_.initramfs;
    request.vcpus = config_.vcpus;
    const auto loaded = load_guest(*ram_, kernel, request);
    create_devices();
    create_vcpus();
    apply_entry_state(*vcpus_[0]->handle, loaded.cpu);

    go_ = std::make_unique<std::latch>(1);
    for (unsigned i = 0; i < vcpus_.size(); ++i) {
        threads_.emplace_back([this, i] { vcpu_loop(i); });
        vcpus_[i]->thread = threads_.back().native_handle();
    }
    {
        const std::lock_guard lock(mutex_);
        for (auto& v : vcpus_) {
            v->alive = true;
        }
        state_ = RunState::running;
    }
    log::info("kvm", config_.vcpus, " vCPUs, ", human_bytes(ram_->layout().total_bytes()), " RAM, ",
              to_string(kernel.format()), " ", quote(config_.kernel.string()), " entered at ",
              hex(kernel.entry()),
              loaded.initrd_size != 0 ? cat(", initrd ", human_bytes(loaded.initrd_size), " at ",
                                            hex(loaded.initrd_gpa))
                                      : std::string(),
              "; set up in ", since_start_.microseconds() / 1000.0, " ms");
    log::debug("kvm", "command line: ", cmdline_);
    go_->count_down();
}

// ---------------------------------------------------------------------------
// vCPU threads

void KvmEngine::serve_requests(unsigned index, std::unique_lock<std::mutex>& lock) {
    auto& slot = *vcpus_[index];
    while (!slot.requests.empty()) {
        auto work = std::move(slot.requests.front());
        slot.requests.pop_front();
        slot.has_requests.store(!slot.requests.empty());
        lock.unlock();
        work();
        lock.lock();
    }
}

void KvmEngine::vcpu_loop(unsigned index) {
    (void)unblock_kick_signal();
    go_->wait();
    auto& slot = *vcpus_[index];
    kvm_run* run = slot.handle->run_state();
    while (true) {
        clear_immediate_exit(run);
        if (stop_requested_.load() || pause_requested_.load() || slot.has_requests.load()) {
            std::unique_lock lock(mutex_);
            serve_requests(index, lock);
            if (stop_requested_.load()) {
                break;
            }
            if (pause_requested_.load()) {
                ++parked_;
                cv_.notify_all();
                cv_.wait(lock, [&] {
                    return !pause_requested_.load() || stop_requested_.load() ||
                           slot.has_requests.load();
                });
                --parked_;
                continue;
            }
        }
        const int rc = slot.handle->run();
        if (rc == -EINTR || rc == -EAGAIN) {
            continue;
        }
        bool keep_going = false;
        if (rc < 0) {
            engine_failed(index, "kvm-run-failed", cat("KVM_RUN: ", errno_text(-rc)),
                          {{"error", errno_text(-rc)}});
        } else {
            try {
                keep_going = handle_exit(index);
            } catch (const std::exception& e) {
                engine_failed(index, "vmm-error", e.what(), {{"error", e.what()}});
            }
        }
        if (!keep_going) {
            break;
        }
    }
    {
        std::unique_lock lock(mutex_);
        slot.alive = false;
        serve_requests(index, lock);
        ++exited_;
    }
    cv_.notify_all();
}

bool KvmEngine::handle_exit(unsigned index) {
    kvm_run* run = vcpus_[index]->handle->run_state();
    switch (run->exit_reason) {
        case KVM_EXIT_IO: {
            auto* data = reinterpret_cast<std::uint8_t*>(run) + run->io.data_offset;
            for (std::uint32_t i = 0; i < run->io.count; ++i) {
                const std::span chunk(data + std::size_t{i} * run->io.size, run->io.size);
                if (run->io.direction == KVM_EXIT_IO_OUT) {
                    (void)pio_.write(run->io.port, chunk);
                } else {
                    (void)pio_.read(run->io.port, chunk);
                }
            }
            return true;
        }
        case KVM_EXIT_MMIO: {
            const std::span chunk(run->mmio.data, std::min<std::size_t>(run->mmio.len, 8));
            if (run->mmio.is_write != 0) {
                (void)mmio_.write(run->mmio.phys_addr, chunk);
            } else {
                (void)mmio_.read(run->mmio.phys_addr, chunk);
            }
            return true;
        }
        case KVM_EXIT_SHUTDOWN:
            log::info("kvm", "vCPU ", index, ": triple fault at rip ",
                      hex(vcpus_[index]->handle->regs().rip));
            guest_reset("triple-fault");
            return false;
        case KVM_EXIT_SYSTEM_EVENT:
            switch (run->system_event.type) {
                case KVM_SYSTEM_EVENT_SHUTDOWN:
                    end_guest(RunState::shutdown,
                              {EngineEvent::Kind::shutdown, "guest-shutdown", {{"guest", true}}});
                    break;
                case KVM_SYSTEM_EVENT_CRASH:
                    guest_panicked("system-event", "KVM reported a guest crash");
                    end_guest(RunState::guest_panicked,
                              {EngineEvent::Kind::shutdown, "guest-panic", {{"guest", true}}});
                    break;
                default:
                    guest_reset("guest-reset");
                    break;
            }
            return false;
        case KVM_EXIT_INTERNAL_ERROR:
            if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION) {
                return handle_emulation_failure(index);
            }
            engine_failed(index, "kvm-internal-error",
                          cat("KVM internal error, suberror ", run->internal.suberror),
                          {{"suberror", run->internal.suberror}});
            return false;
        case KVM_EXIT_FAIL_ENTRY:
            engine_failed(
                index, "entry-failure",
                cat("VM entry failed, reason ", hex(run->fail_entry.hardware_entry_failure_reason)),
                {{"hardware_reason", run->fail_entry.hardware_entry_failure_reason}});
            return false;
        case KVM_EXIT_HLT:
        case KVM_EXIT_INTR:
            return true;
        default:
            engine_failed(index, "unexpected-exit", cat("unexpected KVM exit ", run->exit_reason),
                          {{"exit_reason", run->exit_reason}});
            return false;
    }
}

// KVM here may fail to emulate an instruction of guest kernel code. Two such
// instructions run in every Linux boot, and the VMM does for them what the
// CPU would:
// - INT3 (int3_selftest()): the #BP trap, with rip after the INT3;
// - FWAIT (fpu__drop() when a kernel thread exits): #NM if CR0.TS and CR0.MP
//   are set, #MF if the x87 status word shows a pending unmasked exception
//   (ES) and CR0.NE is set, otherwise nothing but rip moving on.
bool KvmEngine::handle_emulation_failure(unsigned index) {
    const auto& vcpu = *vcpus_[index]->handle;
    auto regs = vcpu.regs();
    const auto sregs = vcpu.sregs();
    const std::uint64_t linear = sregs.cs.base + regs.rip;
    std::array<std::uint8_t, 16> bytes{};
    std::size_t have = 0;
    if (const auto gpa = vcpu.translate(linear)) {
        // Up to the end of the page: the next page may not be mapped.
        have = std::min<std::size_t>(bytes.size(), kPageSize - (*gpa % kPageSize));
        if (!ram_->view().read(*gpa, std::as_writable_bytes(std::span(bytes.data(), have)))) {
            have = 0;
        }
    }
    const auto inject = [&](std::uint8_t vector) {
        auto events = vcpu.events();
        events.exception.injected = 1;
        events.exception.nr = vector;
        events.exception.has_error_code = 0;
        events.exception.error_code = 0;
        events.flags = 0;
        vcpu.set_events(events);
    };
    const auto first_time = [&](std::uint64_t& counter) {
        const std::lock_guard lock(mutex_);
        return ++counter == 1;
    };
    if (have > 0 && bytes[0] == 0xcc) {
        regs.rip += 1;
        vcpu.set_regs(regs);
        inject(3);  // #BP, a trap: rip after the INT3
        if (first_time(int3_injections_)) {
            log::info("kvm", "vCPU ", index, ": KVM cannot emulate INT3 at rip ", hex(linear),
                      " here; the VMM injects #BP instead");
        }
        return true;
    }
    if (have > 0 && bytes[0] == 0x9b) {
        constexpr std::uint64_t kCr0Ts = 1ULL << 3;
        constexpr std::uint16_t kFswEs = 1U << 7;
        if ((sregs.cr0 & kCr0Ts) != 0 && (sregs.cr0 & x86::kCr0Mp) != 0) {
            inject(7);  // #NM, a fault: rip stays on the FWAIT
        } else if ((vcpu.fpu().fsw & kFswEs) != 0 && (sregs.cr0 & x86::kCr0Ne) != 0) {
            inject(16);  // #MF, a fault: rip stays on the FWAIT
        } else {
            regs.rip += 1;
            vcpu.set_regs(regs);
        }
        if (first_time(fwait_emulations_)) {
            log::info("kvm", "vCPU ", index, ": KVM cannot emulate FWAIT at rip ", hex(linear),
                      " here; the VMM does it instead");
        }
        return true;
    }
    const auto text = hex_bytes(std::span(bytes.data(), have));
    engine_failed(
        index, "emulation-failure",
        cat("KVM could not emulate the instruction at rip ", hex(linear),
            have > 0 ? cat(" (bytes ", text, ")") : std::string(" (not mapped)"),
            emulated_cpl0_ ? "; this host emulates guest kernel code, see docs/kvm-engine.md" : ""),
        {{"rip", hex(linear)}, {"bytes", text}});
    return false;
}

void KvmEngine::kick_all() {
    const std::lock_guard lock(mutex_);
    for (auto& v : vcpus_) {
        if (v->alive && pthread_equal(v->thread, pthread_self()) == 0) {
            kick(v->handle->run_state(), v->thread);
        }
    }
}

void KvmEngine::on_vcpu(unsigned index, const std::function<void()>& work) {
    if (index >= vcpus_.size()) {
        throw Error(cat("vCPU ", index, " does not exist (the VM has ", vcpus_.size(),
                        vcpus_.empty() ? " vCPUs: it has not started)" : " vCPUs)"));
    }
    auto& slot = *vcpus_[index];
    std::promise<void> done;
    auto finished = done.get_future();
    {
        std::unique_lock lock(mutex_);
        if (!slot.alive || pthread_equal(slot.thread, pthread_self()) != 0) {
            lock.unlock();
            work();
            return;
        }
        // A vCPU's registers can only be read between two KVM_RUNs of its own thread.
        slot.requests.emplace_back([&] {
            try {
                work();
                done.set_value();
            } catch (...) {
                done.set_exception(std::current_exception());
            }
        });
        slot.has_requests.store(true);
        kick(slot.handle->run_state(), slot.thread);
    }
    cv_.notify_all();
    finished.get();
}

// ---------------------------------------------------------------------------
// Guest events and run state

void KvmEngine::end_guest(RunState final_state, const EngineEvent& event) {
    {
        const std::lock_guard lock(mutex_);
        if (ended_) {
            return;
        }
        ended_ = true;
        state_ = final_state;
        stop_requested_.store(true);
    }
    kick_all();
    cv_.notify_all();
    log::info("kvm", "guest ended: ", to_string(final_state), " (", event.reason, ")");
    emit(event);
}

void KvmEngine::engine_failed(unsigned index, const char* reason, const std::string& message,
                              nlohmann::json data) {
    auto text = cat("vCPU ", index, ": ", message);
    log::error("kvm", text);
    data["vcpu"] = index;
    data["message"] = std::move(text);
    end_guest(RunState::internal_error, {EngineEvent::Kind::engine_crash, reason, std::move(data)});
}

void KvmEngine::guest_reset(const char* reason) {
    bool panicked = false;
    {
        const std::lock_guard lock(mutex_);
        panicked = panicked_;
    }
    if (panicked) {
        end_guest(RunState::guest_panicked,
                  {EngineEvent::Kind::shutdown, "guest-panic", {{"guest", true}}});
    } else {
        end_guest(RunState::shutdown, {EngineEvent::Kind::shutdown, reason, {{"guest", true}}});
    }
}

void KvmEngine::guest_panicked(const std::string& source, const std::string& message) {
    {
        const std::lock_guard lock(mutex_);
        if (panicked_ || ended_) {
            return;
        }
        panicked_ = true;
        // The vCPUs keep running so that the kernel can finish its report and reboot.
        state_ = RunState::guest_panicked;
    }
    log::warn("kvm", "guest panicked (", source, "): ", message);
    emit({EngineEvent::Kind::panic, source, {{"source", source}, {"message", message}}});
}

void KvmEngine::on_console(std::span<const std::uint8_t> bytes) {
    console_.write(std::as_bytes(bytes));
    std::vector<std::string> lines;
    {
        const std::lock_guard lock(console_mutex_);
        for (auto b : bytes) {
            const char c = static_cast<char>(b);
            if (c == '\n') {
                lines.push_back(std::move(console_line_));
                console_line_.clear();
            } else if (c != '\r' && console_line_.size() < kMaxConsoleLine) {
                console_line_ += c;
            }
        }
    }
    for (const auto& line : lines) {
        if (line.find(kPanicLine) != std::string::npos) {
            guest_panicked("console", line);
        } else if (line.find(kPanicEndLine) != std::string::npos) {
            bool panicked = false;
            {
                const std::lock_guard lock(mutex_);
                panicked = panicked_;
            }
            if (panicked) {
                end_guest(RunState::guest_panicked,
                          {EngineEvent::Kind::shutdown, "guest-panic", {{"guest", true}}});
            }
        }
    }
}

void KvmEngine::on_marker(std::uint8_t byte) {
    if (byte != MVMM_MARKER_BOOT_COMPLETE) {
        log::debug("kvm", "marker port: ", hex(byte));
        return;
    }
    {
        const std::lock_guard lock(mutex_);
        if (boot_marked_) {
            return;
        }
        boot_marked_ = true;
    }
    const double seconds = process_uptime_seconds();
    log::info("kvm", "boot complete ", seconds, " s after the VMM started");
    emit({EngineEvent::Kind::boot_complete,
          "boot-complete",
          {{"seconds", seconds}, {"since_engine_start", since_start_.seconds()}}});
}

void KvmEngine::pause() {
    for (const auto& v : vcpus_) {
        if (pthread_equal(v->thread, pthread_self()) != 0) {
            throw Error(
                "KVM engine: pause() on a vCPU thread (from an event handler?) would wait "
                "for itself");
        }
    }
    {
        std::unique_lock lock(mutex_);
        if (state_ != RunState::running) {
            return;
        }
        pause_requested_.store(true);
        for (auto& v : vcpus_) {
            if (v->alive) {
                kick(v->handle->run_state(), v->thread);
            }
        }
        cv_.wait(lock, [&] { return parked_ + exited_ >= vcpus_.size() || ended_; });
        if (ended_) {
            pause_requested_.store(false);
            cv_.notify_all();
            return;
        }
        state_ = RunState::paused;
    }
    emit({EngineEvent::Kind::stop, "host-pause", {}});
}

void KvmEngine::resume() {
    {
        const std::lock_guard lock(mutex_);
        if (state_ != RunState::paused) {
            return;
        }
        pause_requested_.store(false);
        state_ = RunState::running;
    }
    cv_.notify_all();
    emit({EngineEvent::Kind::resume, "host-resume", {}});
}

void KvmEngine::stop() {
    {
        const std::lock_guard lock(mutex_);
        if (ended_) {
            return;
        }
        if (state_ == RunState::prelaunch && threads_.empty()) {
            ended_ = true;
            state_ = RunState::shutdown;
            return;
        }
    }
    end_guest(RunState::shutdown, {EngineEvent::Kind::shutdown, "host-stop", {{"guest", false}}});
}

RunState KvmEngine::wait() {
    std::unique_lock lock(mutex_);
    if (state_ == RunState::prelaunch && !ended_) {
        return state_;
    }
    cv_.wait(lock, [&] { return ended_ && exited_ >= threads_.size(); });
    return state_;
}

RunState KvmEngine::state() const {
    const std::lock_guard lock(mutex_);
    return state_;
}

const PhysView& KvmEngine::memory() const {
    if (!ram_) {
        throw Error("KVM engine: guest memory exists only after start()");
    }
    return ram_->view();
}

SpecialRegisters KvmEngine::special_registers(unsigned vcpu) {
    kvm_sregs sregs{};
    on_vcpu(vcpu, [&] { sregs = vcpus_[vcpu]->handle->sregs(); });
    SpecialRegisters out;
    out.cr0 = sregs.cr0;
    out.cr2 = sregs.cr2;
    out.cr3 = sregs.cr3;
    out.cr4 = sregs.cr4;
    out.efer = sregs.efer;
    return out;
}

// ---------------------------------------------------------------------------
// KvmView

nlohmann::json KvmEngine::statistics() {
    if (!vm_stats_) {
        throw Error("KVM statistics: the VM has not started");
    }
    nlohmann::json out;
    out["vm"] = vm_stats_->to_json();
    out["vcpus"] = nlohmann::json::array();
    for (unsigned i = 0; i < vcpus_.size(); ++i) {
        out["vcpus"].push_back({{"index", i}, {"stats", vcpus_[i]->stats->to_json()}});
    }
    // The second-level MMU's leaves (EPT/NPT, or shadow pages without them).
    std::uint64_t pages[3] = {0, 0, 0};
    const char* names[3] = {"pages_4k", "pages_2m", "pages_1g"};
    for (const auto& entry : out["vm"]) {
        for (int i = 0; i < 3; ++i) {
            if (entry.at("name") == names[i] && entry.at("value").is_number_unsigned()) {
                pages[i] = entry.at("value").get<std::uint64_t>();
            }
        }
    }
    out["second-level"] = {
        {"pages-4k", pages[0]},
        {"pages-2m", pages[1]},
        {"pages-1g", pages[2]},
        {"mapped-bytes", pages[0] * 4096 + pages[1] * (2ULL << 20) + pages[2] * (1ULL << 30)}};
    return out;
}

void KvmEngine::dirty_log_mark() {
    const std::lock_guard lock(dirty_mutex_);
    if (!vm_ || !ram_) {
        throw Error("dirty log: the VM has not started");
    }
    const auto& ranges = ram_->layout().ranges();
    if (!dirty_logging_) {
        // Turning logging on for a slot starts it with a clean bitmap.
        dirty_bitmaps_.clear();
        for (std::size_t i = 0; i < ranges.size(); ++i) {
            slot_flags_[i] |= KVM_MEM_LOG_DIRTY_PAGES;
            vm_->set_memory_region(static_cast<std::uint32_t>(i), slot_flags_[i], ranges[i].gpa,
                                   ranges[i].size, ram_->range_host_base(ranges[i]));
            dirty_bitmaps_.emplace_back((ranges[i].size / kPageSize + 63) / 64, 0);
        }
        dirty_logging_ = true;
        return;
    }
    for (std::size_t i = 0; i < ranges.size(); ++i) {
        vm_->get_dirty_log(static_cast<std::uint32_t>(i), dirty_bitmaps_[i]);  // read and clear
        std::fill(dirty_bitmaps_[i].begin(), dirty_bitmaps_[i].end(), 0);
    }
}

std::vector<std::uint64_t> KvmEngine::dirty_log_collect() {
    const std::lock_guard lock(dirty_mutex_);
    if (!dirty_logging_) {
        throw Error("dirty log: no interval has started (mark first)");
    }
    const auto& ranges = ram_->layout().ranges();
    std::vector<std::uint64_t> pfns;
    for (std::size_t i = 0; i < ranges.size(); ++i) {
        std::vector<std::uint64_t> fresh(dirty_bitmaps_[i].size(), 0);
        vm_->get_dirty_log(static_cast<std::uint32_t>(i), fresh);
        auto& acc = dirty_bitmaps_[i];
        const std::uint64_t pages = ranges[i].size / kPageSize;
        for (std::size_t w = 0; w < acc.size(); ++w) {
            acc[w] |= fresh[w];
            for (std::uint64_t bits = acc[w]; bits != 0; bits &= bits - 1) {
                const std::uint64_t page = w * 64 + static_cast<unsigned>(__builtin_ctzll(bits));
                if (page < pages) {
                    pfns.push_back(ranges[i].gpa / kPageSize + page);
                }
            }
        }
    }
    return pfns;
}

}  // namespace mvmm::kvm
