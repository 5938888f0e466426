# The QEMU engine, the engine choice, VmSession and `mshare-vmm run`.
mvmm_test(unit_qemu
  SOURCES qemu/monitor_parse_test.cpp qemu/command_line_test.cpp qemu/qmp_client_test.cpp
          qemu/child_process_test.cpp qemu/ram_folder_test.cpp qemu/engine_select_test.cpp
          qemu/session_test.cpp
  DEPS mvmm_qemu mvmm_engine_select mvmm_session
  LABELS unit)

# Boot real guests in qemu-system-x86_64 (out/kernel, out/initramfs; skipped without them).
mvmm_test(guest_qemu_engine
  SOURCES qemu/qemu_engine_test.cpp
  DEPS mvmm_qemu
  LABELS guest slow
  TIMEOUT 600)

mvmm_test(guest_run_command
  SOURCES qemu/run_command_test.cpp
  DEPS mvmm_qemu
  LABELS guest slow
  TIMEOUT 600)
add_dependencies(guest_run_command mshare-vmm)
