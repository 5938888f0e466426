# Compiler flags shared by every target of the project.
#
# mvmm_target_defaults(<target>) gives a target the project's warning set,
# -Werror when MVMM_WERROR is on, and the sanitizers when MVMM_SANITIZE is on.

set(MVMM_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
                  -Wcast-align -Wunused -Woverloaded-virtual -Wnull-dereference
                  -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough)
set(MVMM_C_WARNINGS -Wall -Wextra -Wshadow -Wformat=2 -Wimplicit-fallthrough)

function(mvmm_target_defaults target)
  get_target_property(_type ${target} TYPE)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:${MVMM_WARNINGS}>
    $<$<COMPILE_LANGUAGE:C>:${MVMM_C_WARNINGS}>)
  if(MVMM_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(MVMM_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-omit-frame-pointer
                                             -fno-sanitize-recover=all)
    if(NOT _type STREQUAL "STATIC_LIBRARY" AND NOT _type STREQUAL "OBJECT_LIBRARY")
      target_link_options(${target} PRIVATE -fsanitize=address,undefined)
    endif()
  endif()
endfunction()

# mvmm_library(<name> SOURCES ... DEPS ...): a static library of the VMM whose
# public headers live under include/mvmm/.
function(mvmm_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/include)
  target_link_libraries(${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  mvmm_target_defaults(${name})
endfunction()
