#include "core/executable.hpp"

#include <unistd.h>

#include <cstdlib>

#include "core/error.hpp"

namespace osteofm {

std::string running_executable() {
  char self[4096] = {0};
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) throw RuntimeFailure("cannot find the osteofm executable (/proc/self/exe)");
  return std::string(self, static_cast<size_t>(n));
}

std::string sibling_executable(const std::string& executable, const std::string& name) {
  const size_t slash = executable.rfind('/');
  return (slash == std::string::npos ? std::string() : executable.substr(0, slash + 1)) + name;
}

std::string self_executable() {
  // Only an absolute path that names a file: a stale or relative value would start some
  // other program in every child.
  if (const char* launcher = std::getenv(kLauncherEnvironment);
      launcher != nullptr && launcher[0] == '/' && access(launcher, X_OK) == 0)
    return launcher;
  return running_executable();
}

}  // namespace osteofm
