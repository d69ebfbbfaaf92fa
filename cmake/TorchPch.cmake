# The LibTorch precompiled header, only where it pays.
#
# <torch/torch.h> is precompiled once (in osteofm_core_torch) into a ~570 MB .gch. Loading
# it costs ~11 s per translation unit, which is more than a file that never includes
# LibTorch takes to compile without it (cmd_table.cpp: 19.7 s with the header, 8.5 s
# without); a file that does include LibTorch saves ~10 s (train/predict.cpp: 14.8 s
# with, 24.8 s without). So each source is scanned for LibTorch includes, following its
# project headers ("part/file.hpp") transitively, and only those that reach one use the
# header. The scan decides speed only: a file it misses still compiles, just slower.

set(_OSTEOFM_INCLUDE_ROOTS ${PROJECT_SOURCE_DIR}/lib ${PROJECT_SOURCE_DIR}/apps/osteofm)

# Sets `out` to TRUE when `file` includes LibTorch, directly or through project headers.
function(_osteofm_reaches_torch file out)
  get_property(known GLOBAL PROPERTY "_osteofm_torch:${file}" SET)
  if(known)
    get_property(answer GLOBAL PROPERTY "_osteofm_torch:${file}")
    set(${out} ${answer} PARENT_SCOPE)
    return()
  endif()
  set_property(GLOBAL PROPERTY "_osteofm_torch:${file}" FALSE)  # stops include cycles
  file(STRINGS ${file} lines REGEX "^[ \t]*#[ \t]*include")
  set(answer FALSE)
  get_filename_component(here ${file} DIRECTORY)
  foreach(line IN LISTS lines)
    if(line MATCHES "<(torch|ATen|c10)/")
      set(answer TRUE)
      break()
    endif()
    if(line MATCHES "\"([^\"]+)\"")
      set(name ${CMAKE_MATCH_1})
      foreach(root ${here} ${_OSTEOFM_INCLUDE_ROOTS})
        if(EXISTS ${root}/${name})
          get_filename_component(header ${root}/${name} ABSOLUTE)
          _osteofm_reaches_torch(${header} reaches)
          if(reaches)
            set(answer TRUE)
          endif()
          break()
        endif()
      endforeach()
      if(answer)
        break()
      endif()
    endif()
  endforeach()
  set_property(GLOBAL PROPERTY "_osteofm_torch:${file}" ${answer})
  set(${out} ${answer} PARENT_SCOPE)
endfunction()

# Gives `target`'s LibTorch sources the shared precompiled header; its other sources
# compile without it. Call in the directory that defines `target`, after its sources.
function(osteofm_use_torch_pch target)
  if(target STREQUAL "osteofm_core_torch")
    target_precompile_headers(${target} PRIVATE ${PROJECT_SOURCE_DIR}/lib/core/torch_pch.hpp)
  else()
    target_precompile_headers(${target} REUSE_FROM osteofm_core_torch)
  endif()
  get_target_property(sources ${target} SOURCES)
  foreach(source IN LISTS sources)
    if(source MATCHES "\\$<")  # generator expressions (object files of other targets)
      continue()
    endif()
    get_filename_component(path ${source} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
    if(NOT path MATCHES "\\.(cpp|cc|cxx)$")
      continue()
    endif()
    _osteofm_reaches_torch(${path} reaches)
    if(NOT reaches)
      set_source_files_properties(${source} PROPERTIES SKIP_PRECOMPILE_HEADERS ON)
    endif()
  endforeach()
endfunction()
