#include "report/latex.hpp"

#include <cstring>
#include <utility>

namespace osteofm {

std::string latex_text(const std::string& text) {
  static const std::pair<const char*, const char*> symbols[] = {
      {"\xce\x94", "$\\Delta$"}, {"\xe2\x88\x92", "$-$"}, {"\xe2\x80\xa0", "$^\\dagger$"},
      {"\xc2\xb1", "$\\pm$"},   {"\xe2\x89\xa5", "$\\geq$"}, {"\xe2\x89\xa4", "$\\leq$"},
      {"\xc3\x97", "$\\times$"}, {"\xce\xb1", "$\\alpha$"},  {"\xe2\x80\x93", "--"},
      {"\xe2\x80\xa1", "$^\\ddagger$"}, {"\xc2\xa7", "\\S{}"},
      {"\xc2\xb6", "\\P{}"}};
  std::string o;
  for (size_t i = 0; i < text.size();) {
    bool replaced = false;
    for (const auto& [utf8, latex] : symbols) {
      const size_t n = std::strlen(utf8);
      if (text.compare(i, n, utf8) == 0) {
        o += latex;
        i += n;
        replaced = true;
        break;
      }
    }
    if (replaced) continue;
    const char c = text[i++];
    if (c == '_' || c == '%' || c == '&' || c == '#' || c == '$' || c == '{' || c == '}') o += '\\';
    o += c;
  }
  return o;
}

}  // namespace osteofm
