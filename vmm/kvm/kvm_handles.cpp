#include "kvm_handles.hpp"

#include <cerrno>
#include <memory>

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>

namespace mvmm::kvm {
namespace {

// The variable-sized ioctl structures. <linux/kvm.h> of Linux 6.1 declares
// their flexible arrays in a way that gives them a different size and layout
// in C++ than in C (an empty struct takes a byte), which also changes the
// ioctl numbers. So they are laid out here by hand: an 8-byte header
// (count, padding) followed by the entries, and the numbers use 8 as size.
constexpr std::size_t kFlexHeader = 8;
constexpr unsigned long kGetSupportedCpuid = _IOC(_IOC_READ | _IOC_WRITE, KVMIO, 0x05, kFlexHeader);
constexpr unsigned long kSetCpuid2 = _IOC(_IOC_WRITE, KVMIO, 0x90, kFlexHeader);
constexpr unsigned long kGetMsrs = _IOC(_IOC_READ | _IOC_WRITE, KVMIO, 0x88, kFlexHeader);
constexpr unsigned long kSetMsrs = _IOC(_IOC_WRITE, KVMIO, 0x89, kFlexHeader);

// Zeroed, 8-byte aligned storage: a count, padding, then `n` entries of T.
template <typename T>
class FlexBuffer {
  public:
    explicit FlexBuffer(std::size_t n)
        : storage_(std::make_unique<std::uint64_t[]>((kFlexHeader + n * sizeof(T) + 7) / 8)) {
        *count() = static_cast<std::uint32_t>(n);
    }
    std::uint32_t* count() { return reinterpret_cast<std::uint32_t*>(storage_.get()); }
    T* entries() { return reinterpret_cast<T*>(storage_.get() + kFlexHeader / 8); }
    void* get() { return storage_.get(); }

  private:
    std::unique_ptr<std::uint64_t[]> storage_;
};

}  // namespace

int checked_ioctl(int fd, unsigned long request, unsigned long arg, const char* what) {
    int rc = 0;
    do {
        rc = ::ioctl(fd, request, arg);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0) {
        throw_errno(what);
    }
    return rc;
}

System::System() {
    fd_ = UniqueFd(::open("/dev/kvm", O_RDWR | O_CLOEXEC));
    if (!fd_) {
        throw_errno("KVM: cannot open /dev/kvm");
    }
    const int version = ::ioctl(fd_.get(), KVM_GET_API_VERSION, 0);
    if (version != KVM_API_VERSION) {
        throw Error(cat("KVM: /dev/kvm speaks API version ", version, ", not ", KVM_API_VERSION));
    }
}

int System::extension(long capability) const noexcept {
    const int rc = ::ioctl(fd_.get(), KVM_CHECK_EXTENSION, capability);
    return rc < 0 ? 0 : rc;
}

std::size_t System::vcpu_mmap_size() const {
    return static_cast<std::size_t>(
        checked_ioctl(fd_.get(), KVM_GET_VCPU_MMAP_SIZE, 0UL, "KVM_GET_VCPU_MMAP_SIZE"));
}

std::vector<kvm_cpuid_entry2> System::supported_cpuid() const {
    for (std::size_t n = 64; n <= 4096; n *= 2) {
        FlexBuffer<kvm_cpuid_entry2> cpuid(n);
        if (::ioctl(fd_.get(), kGetSupportedCpuid, cpuid.get()) == 0) {
            return {cpuid.entries(), cpuid.entries() + *cpuid.count()};
        }
        if (errno != E2BIG) {
            throw_errno("KVM_GET_SUPPORTED_CPUID");
        }
    }
    throw Error("KVM_GET_SUPPORTED_CPUID: more than 4096 entries");
}

Vm::Vm(const System& kvm) {
    // KVM_CREATE_VM can fail with EINTR when a signal arrives; checked_ioctl retries.
    fd_ = UniqueFd(checked_ioctl(kvm.fd(), KVM_CREATE_VM, 0UL, "KVM_CREATE_VM"));
    ::fcntl(fd_.get(), F_SETFD, FD_CLOEXEC);
}

int Vm::extension(long capability) const noexcept {
    const int rc = ::ioctl(fd_.get(), KVM_CHECK_EXTENSION, capability);
    return rc < 0 ? 0 : rc;
}

void Vm::set_memory_region(std::uint32_t slot, std::uint32_t flags, std::uint64_t gpa,
                           std::uint64_t size, void* host) const {
    kvm_userspace_memory_region region{};
    region.slot = slot;
    region.flags = flags;
    region.guest_phys_addr = gpa;
    region.memory_size = size;
    region.userspace_addr = reinterpret_cast<std::uint64_t>(host);
    checked_ioctl(fd_.get(), KVM_SET_USER_MEMORY_REGION, &region, "KVM_SET_USER_MEMORY_REGION");
}

void Vm::irq_line(unsigned irq, bool level) const {
    kvm_irq_level line{};
    line.irq = irq;
    line.level = level ? 1 : 0;
    checked_ioctl(fd_.get(), KVM_IRQ_LINE, &line, "KVM_IRQ_LINE");
}

void Vm::get_dirty_log(std::uint32_t slot, std::vector<std::uint64_t>& bitmap) const {
    kvm_dirty_log log{};
    log.slot = slot;
    log.dirty_bitmap = bitmap.data();
    checked_ioctl(fd_.get(), KVM_GET_DIRTY_LOG, &log, "KVM_GET_DIRTY_LOG");
}

UniqueFd Vm::stats_fd() const {
    return UniqueFd(checked_ioctl(fd_.get(), KVM_GET_STATS_FD, 0UL, "KVM_GET_STATS_FD (VM)"));
}

Vcpu::Vcpu(const Vm& vm, unsigned id, std::size_t mmap_size) : id_(id) {
    fd_ = UniqueFd(
        checked_ioctl(vm.fd(), KVM_CREATE_VCPU, static_cast<unsigned long>(id), "KVM_CREATE_VCPU"));
    ::fcntl(fd_.get(), F_SETFD, FD_CLOEXEC);
    run_ = Mapping("kvm_run", mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get());
}

int Vcpu::run() const noexcept {
    return ::ioctl(fd_.get(), KVM_RUN, 0) < 0 ? -errno : 0;
}

kvm_regs Vcpu::regs() const {
    kvm_regs r{};
    checked_ioctl(fd_.get(), KVM_GET_REGS, &r, "KVM_GET_REGS");
    return r;
}

void Vcpu::set_regs(const kvm_regs& r) const {
    checked_ioctl(fd_.get(), KVM_SET_REGS, &r, "KVM_SET_REGS");
}

kvm_sregs Vcpu::sregs() const {
    kvm_sregs s{};
    checked_ioctl(fd_.get(), KVM_GET_SREGS, &s, "KVM_GET_SREGS");
    return s;
}

void Vcpu::set_sregs(const kvm_sregs& s) const {
    checked_ioctl(fd_.get(), KVM_SET_SREGS, &s, "KVM_SET_SREGS");
}

kvm_fpu Vcpu::fpu() const {
    kvm_fpu fpu{};
    checked_ioctl(fd_.get(), KVM_GET_FPU, &fpu, "KVM_GET_FPU");
    return fpu;
}

void Vcpu::set_fpu(const kvm_fpu& fpu) const {
    checked_ioctl(fd_.get(), KVM_SET_FPU, &fpu, "KVM_SET_FPU");
}

void Vcpu::set_cpuid(const std::vector<kvm_cpuid_entry2>& entries) const {
    FlexBuffer<kvm_cpuid_entry2> cpuid(entries.size());
    std::copy(entries.begin(), entries.end(), cpuid.entries());
    checked_ioctl(fd_.get(), kSetCpuid2, cpuid.get(), "KVM_SET_CPUID2");
}

void Vcpu::set_msrs(const std::vector<std::pair<std::uint32_t, std::uint64_t>>& msrs) const {
    FlexBuffer<kvm_msr_entry> list(msrs.size());
    for (std::size_t i = 0; i < msrs.size(); ++i) {
        list.entries()[i].index = msrs[i].first;
        list.entries()[i].data = msrs[i].second;
    }
    const int set = checked_ioctl(fd_.get(), kSetMsrs, list.get(), "KVM_SET_MSRS");
    if (static_cast<std::size_t>(set) != msrs.size()) {
        throw Error(cat("KVM_SET_MSRS: MSR ", hex(msrs[static_cast<std::size_t>(set)].first),
                        " was refused"));
    }
}

std::uint64_t Vcpu::msr(std::uint32_t index) const {
    FlexBuffer<kvm_msr_entry> list(1);
    list.entries()[0].index = index;
    if (checked_ioctl(fd_.get(), kGetMsrs, list.get(), "KVM_GET_MSRS") != 1) {
        throw Error(cat("KVM_GET_MSRS: MSR ", hex(index), " cannot be read"));
    }
    return list.entries()[0].data;
}

kvm_lapic_state Vcpu::lapic() const {
    kvm_lapic_state s{};
    checked_ioctl(fd_.get(), KVM_GET_LAPIC, &s, "KVM_GET_LAPIC");
    return s;
}

void Vcpu::set_lapic(const kvm_lapic_state& s) const {
    checked_ioctl(fd_.get(), KVM_SET_LAPIC, &s, "KVM_SET_LAPIC");
}

kvm_vcpu_events Vcpu::events() const {
    kvm_vcpu_events e{};
    checked_ioctl(fd_.get(), KVM_GET_VCPU_EVENTS, &e, "KVM_GET_VCPU_EVENTS");
    return e;
}

void Vcpu::set_events(const kvm_vcpu_events& e) const {
    checked_ioctl(fd_.get(), KVM_SET_VCPU_EVENTS, &e, "KVM_SET_VCPU_EVENTS");
}

std::optional<std::uint64_t> Vcpu::translate(std::uint64_t gva) const {
    kvm_translation t{};
    t.linear_address = gva;
    if (::ioctl(fd_.get(), KVM_TRANSLATE, &t) != 0 || t.valid == 0) {
        return std::nullopt;
    }
    return t.physical_address;
}

UniqueFd Vcpu::stats_fd() const {
    return UniqueFd(checked_ioctl(fd_.get(), KVM_GET_STATS_FD, 0UL, "KVM_GET_STATS_FD (vCPU)"));
}

}  // namespace mvmm::kvm
