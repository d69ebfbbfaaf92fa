// Where osteofm's executables are: `osteofm`, the launcher users run, which runs the
// torch-free verbs itself, and `osteofm-torch` beside it, which it becomes for the others
// (apps/osteofm/launcher_main.cpp).
#pragma once
#include <string>

namespace osteofm {

inline constexpr const char* kTorchExecutableName = "osteofm-torch";
// Set by the launcher before it becomes osteofm-torch: the path child processes start.
inline constexpr const char* kLauncherEnvironment = "OSTEOFM_LAUNCHER";

// This process's executable (/proc/self/exe).
std::string running_executable();
// `name` in the folder of `executable`.
std::string sibling_executable(const std::string& executable, const std::string& name);
// What a verb starts for its child processes (a sweep's trainers, a study's stages, Slurm
// scripts): the launcher this process came through, else this executable.
std::string self_executable();

}  // namespace osteofm
