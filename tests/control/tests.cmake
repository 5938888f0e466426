# The control socket: QMP wire format, the server, the client and its docs.
mvmm_test(unit_protocol SOURCES control/protocol_test.cpp DEPS mvmm_protocol LABELS unit)
mvmm_test(unit_control_server SOURCES control/server_test.cpp DEPS mvmm_control LABELS unit)
target_compile_options(unit_control_server PRIVATE -Wno-null-dereference)
mvmm_test(unit_control_engine_backend SOURCES control/engine_backend_test.cpp DEPS mvmm_control
          LABELS unit)
target_compile_options(unit_control_engine_backend PRIVATE -Wno-null-dereference)
mvmm_test(unit_control_ctl SOURCES control/ctl_test.cpp DEPS mvmm_control LABELS unit)
target_compile_options(unit_control_ctl PRIVATE -Wno-null-dereference)
add_dependencies(unit_control_ctl mshare-vmm)
mvmm_test(unit_control_text SOURCES control/text_report_test.cpp DEPS mvmm_control LABELS unit)
mvmm_test(unit_control_doc SOURCES control/doc_examples_test.cpp DEPS mvmm_control LABELS unit)
target_compile_options(unit_control_doc PRIVATE -Wno-null-dereference)
mvmm_test(unit_control_external_clients SOURCES control/external_clients_test.cpp
          DEPS mvmm_control LABELS unit)
target_compile_options(unit_control_external_clients PRIVATE -Wno-null-dereference)
mvmm_test(unit_protocol_fuzz_replay
          SOURCES control/fuzz_replay_test.cpp ${PROJECT_SOURCE_DIR}/fuzz/protocol/fuzz_protocol.cpp
          DEPS mvmm_protocol LABELS unit)
mvmm_test(unit_control_service SOURCES control/control_service_test.cpp
          DEPS mvmm_control_session LABELS unit)
target_compile_options(unit_control_service PRIVATE -Wno-null-dereference)

# Boots a guest with `mshare-vmm run` (out/kernel, out/initramfs; skipped without them).
mvmm_test(guest_control SOURCES control/guest_control_test.cpp
          DEPS mvmm_control mvmm_qemu LABELS guest slow TIMEOUT 600)
target_compile_options(guest_control PRIVATE -Wno-null-dereference)
add_dependencies(guest_control mshare-vmm)
