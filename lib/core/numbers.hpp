// Constants the statistics share (one definition, so that unity builds can merge files).
#pragma once
#include <limits>

namespace osteofm {

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace osteofm
