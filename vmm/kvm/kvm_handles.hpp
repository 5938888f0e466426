// Thin RAII wrappers of the KVM file descriptors: /dev/kvm, a VM, a vCPU.
// Each failing ioctl throws Error naming the ioctl and the errno. Private to
// the KVM engine library.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <linux/kvm.h>

#include <mvmm/common/mapping.hpp>
#include <mvmm/common/unique_fd.hpp>

namespace mvmm::kvm {

// ioctl(fd, request, arg); throws Error("<what>: <errno text>") on -1.
int checked_ioctl(int fd, unsigned long request, unsigned long arg, const char* what);
inline int checked_ioctl(int fd, unsigned long request, const void* arg, const char* what) {
    return checked_ioctl(fd, request, reinterpret_cast<unsigned long>(arg), what);
}

class System {
  public:
    // Opens /dev/kvm and checks the API version (12). Throws Error saying why not.
    System();
    [[nodiscard]] int fd() const noexcept { return fd_.get(); }
    // KVM_CHECK_EXTENSION on /dev/kvm: 0 if absent.
    [[nodiscard]] int extension(long capability) const noexcept;
    [[nodiscard]] std::size_t vcpu_mmap_size() const;
    [[nodiscard]] std::vector<kvm_cpuid_entry2> supported_cpuid() const;

  private:
    UniqueFd fd_;
};

class Vm {
  public:
    explicit Vm(const System& kvm);
    [[nodiscard]] int fd() const noexcept { return fd_.get(); }
    [[nodiscard]] int extension(long capability) const noexcept;

    void set_memory_region(std::uint32_t slot, std::uint32_t flags, std::uint64_t gpa,
                           std::uint64_t size, void* host) const;
    // Level of an in-kernel irqchip input (KVM_IRQ_LINE).
    void irq_line(unsigned irq, bool level) const;
    // Fills `bitmap` (one bit per page of the slot) and clears KVM's copy.
    void get_dirty_log(std::uint32_t slot, std::vector<std::uint64_t>& bitmap) const;
    [[nodiscard]] UniqueFd stats_fd() const;

  private:
    UniqueFd fd_;
};

class Vcpu {
  public:
    Vcpu(const Vm& vm, unsigned id, std::size_t mmap_size);
    [[nodiscard]] int fd() const noexcept { return fd_.get(); }
    [[nodiscard]] unsigned id() const noexcept { return id_; }
    [[nodiscard]] kvm_run* run_state() const noexcept {
        return reinterpret_cast<kvm_run*>(run_.data());
    }
    // KVM_RUN; returns 0 or -errno (EINTR, EAGAIN, ...), never throws.
    int run() const noexcept;

    [[nodiscard]] kvm_regs regs() const;
    void set_regs(const kvm_regs& regs) const;
    [[nodiscard]] kvm_sregs sregs() const;
    void set_sregs(const kvm_sregs& sregs) const;
    [[nodiscard]] kvm_fpu fpu() const;
    void set_fpu(const kvm_fpu& fpu) const;
    void set_cpuid(const std::vector<kvm_cpuid_entry2>& entries) const;
    void set_msrs(const std::vector<std::pair<std::uint32_t, std::uint64_t>>& msrs) const;
    [[nodiscard]] std::uint64_t msr(std::uint32_t index) const;
    [[nodiscard]] kvm_lapic_state lapic() const;
    void set_lapic(const kvm_lapic_state& lapic) const;
    [[nodiscard]] kvm_vcpu_events events() const;
    void set_events(const kvm_vcpu_events& events) const;
    // Guest-virtual to guest-physical with the vCPU's current paging; nullopt if not mapped.
    [[nodiscard]] std::optional<std::uint64_t> translate(std::uint64_t gva) const;
    [[nodiscard]] UniqueFd stats_fd() const;

  private:
    UniqueFd fd_;
    unsigned id_;
    Mapping run_;
};

}  // namespace mvmm::kvm
