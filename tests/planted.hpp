// A manifest over real public radiographs with one planted fault per row 3..6.
#pragma once
#include "support.hpp"

namespace osteofm::test {

inline std::string planted_manifest(const TempDir& dir) {
  const std::string nih = shared("data/public-cxr/nih-chestxray14");
  const std::string han = shared("data/public-cxr/hannover-covid19-repository/png");
  const std::string text =
      "image_id,patient_id,path,t_score,split,site\n"
      "img1,P1," + nih + "/00000001_000.png,-0.5,train,A\n"
      "img2,P2," + nih + "/00000002_000.png,-1.7,train,B\n"
      "img3,P3,missing.png,-2.8,test,A\n"                                  // row 3: missing file
      "img4,P1," + han + "/0957ce54.png,-1.2,test,\"A, B\"\n"              // row 4: P1 also in train
      "img2,P4," + han + "/1479fa94.png,-3.1,val,C\n"                      // row 5: duplicate image id
      "img6,P5," + han + "/23823ebc.png,abc,val,C\n";                      // row 6: bad T-score
  const std::string path = dir / "planted.csv";
  write_text(path, text);
  return path;
}

}  // namespace osteofm::test
