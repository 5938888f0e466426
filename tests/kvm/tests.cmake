# The KVM engine with synthetic guests (label kvm), the host check, the
# x86 emitter and the binary-stats parser (unit), and a real Linux boot (slow).
mvmm_test(unit_kvm
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/x86_asm_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/binary_stats_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/cmdline_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/vcpu_cpuid_test.cpp
  DEPS mvmm_kvm
  LABELS unit)
target_include_directories(unit_kvm PRIVATE ${PROJECT_SOURCE_DIR}/vmm/kvm)

mvmm_test(kvm_engine
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/kvm_engine_test.cpp ${CMAKE_CURRENT_LIST_DIR}/host_check_test.cpp
  DEPS mvmm_kvm
  LABELS kvm
  TIMEOUT 300)

# Boots out/kernel/vmlinux: minutes where KVM emulates kernel code.
include(${PROJECT_SOURCE_DIR}/guest/initramfs/library.cmake)
mvmm_test(kvm_linux_boot
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/linux_boot_test.cpp
  DEPS mvmm_kvm mvmm_initramfs
  LABELS kvm guest slow
  TIMEOUT 1800)

# `mshare-vmm run` on the KVM engine with synthetic guests: exit statuses.
mvmm_test(kvm_run_command
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/run_command_test.cpp
  DEPS mvmm_kvm mvmm_qemu
  LABELS kvm
  TIMEOUT 300)
add_dependencies(kvm_run_command mshare-vmm)
