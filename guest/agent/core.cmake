# The agent's protocol core, a host-buildable library: the guest agent links
# it statically, and the unit tests link it on the host (also in the
# sanitizer build, where the guest programs are off).
if(NOT TARGET mvmm_agent_core)
  set(_dir ${PROJECT_SOURCE_DIR}/guest/agent)
  add_library(mvmm_agent_core STATIC
    ${_dir}/args.cpp ${_dir}/dispatcher.cpp ${_dir}/system_info.cpp ${_dir}/exec_manager.cpp
    ${_dir}/commands.cpp ${_dir}/agent.cpp)
  target_include_directories(mvmm_agent_core PUBLIC ${_dir})
  target_link_libraries(mvmm_agent_core PUBLIC mvmm_agent_protocol mvmm_common
                                               nlohmann_json::nlohmann_json)
  mvmm_target_defaults(mvmm_agent_core)
endif()
