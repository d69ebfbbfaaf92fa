// Error types and their exit codes (design.md: 0 success, 1 runtime failure, 2 input error).
#pragma once
#include <stdexcept>
#include <string>

namespace osteofm {

// Bad input from the user: a file, row, tensor or flag that cannot be used. Exit code 2.
// The message is one line that names the file (and row or tensor) and the reason.
class InputError : public std::runtime_error {
 public:
  explicit InputError(const std::string& message);
};

// Something that went wrong while running on good input. Exit code 1.
class RuntimeFailure : public std::runtime_error {
 public:
  explicit RuntimeFailure(const std::string& message);
};

// Folds newlines and control characters so an error stays on one line.
std::string one_line(const std::string& text);

}  // namespace osteofm
