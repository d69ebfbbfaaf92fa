# Every quoted #include in lib/ names its part: "<part>/<file>". The layering rests on the
# include path (lib/CMakeLists.txt): a part sees only the folders of the parts it links.
# A quoted include is first looked up beside the including file, so "../models/arch.hpp"
# or a bare "arch.hpp" from the folder next door would walk around it; both are refused.
#
# At configure time: osteofm_check_includes(<lib dir> <part>...) stops CMake, naming the
# file and line. As a script (the layering test that proves the check can fail):
#   cmake -DROOT=<dir> -DPARTS="core;io" -P cmake/CheckIncludes.cmake
function(osteofm_check_includes root)
  set(parts ${ARGN})
  list(JOIN parts "|" alternatives)
  file(GLOB_RECURSE sources ${root}/*.hpp ${root}/*.cpp ${root}/*.inc)
  set(problems "")
  foreach(source ${sources})
    file(STRINGS ${source} lines REGEX "^[ \t]*#[ \t]*include[ \t]*\"")
    foreach(line ${lines})
      string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*\"([^\"]*)\".*" "\\1" header "${line}")
      if(header MATCHES "(^|/)\\.\\.?/" OR NOT header MATCHES "^(${alternatives})/[A-Za-z0-9_/]+\\.(hpp|h|inc)$")
        file(RELATIVE_PATH shown ${root} ${source})
        string(APPEND problems "\n  ${shown}: #include \"${header}\"")
      endif()
    endforeach()
  endforeach()
  if(problems)
    message(FATAL_ERROR "relative include refused: a quoted #include in lib/ names its part, "
                        "\"<part>/<file>.hpp\" (docs/architecture.md):${problems}")
  endif()
endfunction()

if(CMAKE_SCRIPT_MODE_FILE AND ROOT)
  osteofm_check_includes(${ROOT} ${PARTS})
endif()
