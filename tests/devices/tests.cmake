# The device model: bus dispatch, UART registers, i8042, marker/pvpanic, RTC,
# and the UART-to-socket bridge.
mvmm_test(unit_devices
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/io_bus_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/serial8250_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/legacy_devices_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/serial_socket_test.cpp
  DEPS mvmm_devices
  LABELS unit)
