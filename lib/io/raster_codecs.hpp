// JPEG and PNG decoding through libjpeg(-turbo) and libpng directly, with error and warning
// handlers of our own: what the libraries would print on stderr ("Corrupt JPEG data: ...",
// "libpng error: ...") becomes the warning list of the decode or the message of an
// InputError naming the file. Pixels are those OpenCV's imdecode gives (the same library
// calls and defaults); TIFF and BMP still go through OpenCV. Image-I/O builds only.
#pragma once
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace osteofm {

struct DecodedRaster {
  cv::Mat mat;                        // 8- or 16-bit, 1 channel (grey) or 3 (RGB order)
  int stored_channels = 1;            // colour channels as stored (palette: 3; grey+alpha: 1)
  std::vector<std::string> warnings;  // the decoder's own warnings, once each
};

// InputError("<path>: <reason>") when the data cannot be decoded.
DecodedRaster decode_jpeg(const std::string& path, const std::string& bytes);
DecodedRaster decode_png(const std::string& path, const std::string& bytes);

}  // namespace osteofm
