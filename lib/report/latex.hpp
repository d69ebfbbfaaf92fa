// LaTeX-safe text for the tables osteofm writes (the study's table, Table 1): special
// characters escaped and the non-ASCII symbols of their labels and notes written as math,
// so every .tex compiles under plain pdflatex.
#pragma once
#include <string>

namespace osteofm {

std::string latex_text(const std::string& text);

}  // namespace osteofm
