#include "core/error.hpp"

namespace osteofm {

std::string one_line(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  bool last_space = false;
  for (unsigned char c : text) {
    if (c == '\n' || c == '\r' || c == '\t') {
      if (!last_space) out.push_back(' ');
      last_space = true;
    } else if (c < 0x20 || c == 0x7f) {
      out += '?';
      last_space = false;
    } else {
      out.push_back(static_cast<char>(c));
      last_space = (c == ' ');
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

InputError::InputError(const std::string& message) : std::runtime_error(one_line(message)) {}
RuntimeFailure::RuntimeFailure(const std::string& message) : std::runtime_error(one_line(message)) {}

}  // namespace osteofm
