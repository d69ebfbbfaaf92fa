// The phantom cohort: class mix, anatomy under the masks, determinism, splits, and the
// documented baseline band.
#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "core/random.hpp"

#include "core/labels.hpp"
#include "data/image_realism.hpp"
#include "data/phantom.hpp"
#include "io/image.hpp"
#include "io/manifest.hpp"
#include "support.hpp"
#include "data/cache_index.hpp"

using namespace osteofm;
using namespace osteofm::test;

TEST_CASE("phantom: T-scores give the configured WHO class mix", "[phantom][image_io]") {
  PhantomOptions o;
  o.patients = 20000;
  const auto subjects = phantom_subjects(o);
  std::array<int, 3> c{};
  for (const auto& s : subjects) c[who_label(s.t_score)]++;
  CHECK(c[0] / 20000.0 == Approx(0.35).margin(0.015));
  CHECK(c[1] / 20000.0 == Approx(0.45).margin(0.015));
  CHECK(c[2] / 20000.0 == Approx(0.20).margin(0.015));
  o.class_mix = {0.5, 0.3, 0.2};
  std::array<int, 3> d{};
  for (const auto& s : phantom_subjects(o)) d[who_label(s.t_score)]++;
  CHECK(d[0] / 20000.0 == Approx(0.5).margin(0.015));
}

TEST_CASE("phantom: every bone is brighter than the tissue around it", "[phantom][image_io]") {
  PhantomOptions o;
  o.size = 384;
  o.patients = 6;
  for (const auto& s : phantom_subjects(o)) {
    const PhantomImage img = render_phantom(s, 0, o);
    for (uint8_t bit : {kSpine, kRibs, kClavicles, kHumeri}) {
      INFO(s.patient_id << " region bit " << int(bit));
      // Inside the region vs a ring of 3-6 px around it outside every bone.
      const int S = img.width;
      double in = 0, out = 0;
      size_t n_in = 0, n_out = 0;
      for (int y = 6; y < S - 6; ++y)
        for (int x = 6; x < S - 6; ++x) {
          const size_t i = static_cast<size_t>(y) * S + x;
          if (img.mask[i] & bit) {
            in += img.pixels[i];
            ++n_in;
          } else if (!(img.mask[i] & kAllBones)) {
            bool near = false;
            for (int d = 3; d <= 6 && !near; d += 3)
              near = (img.mask[i + d] & bit) || (img.mask[i - d] & bit) || (img.mask[i + d * S] & bit) ||
                     (img.mask[i - d * S] & bit);
            if (near) {
              out += img.pixels[i];
              ++n_out;
            }
          }
        }
      REQUIRE(n_in > 100);
      REQUIRE(n_out > 100);
      CHECK(in / n_in > out / n_out + 0.02);
    }
    // Lungs are darker than the mediastinum column between them.
    double lung = 0, mid = 0;
    size_t nl = 0, nm = 0;
    for (int y = img.height / 4; y < img.height / 2; ++y) {
      for (int x = 0; x < img.width; ++x) {
        const size_t i = static_cast<size_t>(y) * img.width + x;
        if ((img.mask[i] & kLungs) && !(img.mask[i] & kAllBones)) lung += img.pixels[i], ++nl;
      }
      const size_t c = static_cast<size_t>(y) * img.width + img.width / 2;
      mid += img.pixels[c];
      ++nm;
    }
    CHECK(lung / nl < mid / nm - 0.1);
  }
}

TEST_CASE("phantom: synth is deterministic, patient-disjoint and in its baseline band", "[phantom][cli][image_io]") {
  TempDir a, b;
  CliResult r1 = run_osteofm("synth --out '" + a.path.string() + "' --patients 300 --size 256 --seed 7");
  REQUIRE(r1.code == 0);
  CliResult r2 = run_osteofm("synth --out '" + b.path.string() + "' --patients 12 --size 256 --seed 7 --threads 1");
  REQUIRE(r2.code == 0);
  // Same seed: the first patients' files are byte-identical whatever the cohort size and threads.
  for (const std::string f : {"images/PH00001_1.png", "masks/PH00001_1.png", "images/PH00005_1.png"})
    CHECK(read_text(a / f) == read_text(b / f));
  Manifest m = load_manifest(a / "manifest.csv");
  CHECK(m.usable());  // no leakage, every T-score parses
  std::map<std::string, std::set<std::string>> splits;
  for (const auto& row : m.rows) {
    splits[row.patient_id].insert(row.split);
    CHECK(fs::exists(row.path));
    CHECK(fs::exists(row.mask));
  }
  CHECK(splits.size() == 300);
  for (const auto& [p, s] : splits) CHECK(s.size() == 1);
  // The documented baseline (README: 0.75-0.90 at the defaults) from the synth summary.
  const auto pos = r1.out.find("mean bone intensity = ");
  REQUIRE(pos != std::string::npos);
  const double auc = std::stod(r1.out.substr(pos + 22));
  CHECK(auc >= 0.75);
  CHECK(auc <= 0.90);
  // A real mask: 8 bit, the image's size, bits from the region table.
  int w = 0, h = 0;
  const auto mask = read_png_u8(a / "masks/PH00001_1.png", &w, &h);
  CHECK(w == 256);
  std::set<int> bits;
  for (uint8_t v : mask)
    for (int k = 0; k < 6; ++k)
      if (v & (1 << k)) bits.insert(k);
  CHECK(bits.size() == 6);
  CHECK(read_text(a / "regions.json").find("\"lungs\": 32") != std::string::npos);
}

TEST_CASE("phantom: without the bone-density effect the baseline is chance", "[phantom][image_io]") {
  PhantomOptions o;
  o.size = 160;
  o.patients = 300;
  o.effect = 0.0;
  std::vector<PhantomImage> images;
  std::vector<int> labels;
  for (const auto& s : phantom_subjects(o)) {
    images.push_back(render_phantom(s, 0, o));
    labels.push_back(who_label(s.t_score));
  }
  CHECK(phantom_baseline_auc(images, labels) == Approx(0.5).margin(0.1));
}

namespace {
// Mean over the pixels carrying `bit` but not `exclude`, and sum of |a - b| outside `bit`
// dilated by `grow` px.
double mean_in(const PhantomImage& img, uint8_t bit, uint8_t exclude = 0) {
  double s = 0, n = 0;
  for (size_t i = 0; i < img.pixels.size(); ++i)
    if ((img.mask[i] & bit) && !(img.mask[i] & exclude)) {
      s += img.pixels[i];
      ++n;
    }
  return n ? s / n : 0;
}
double diff_outside(const PhantomImage& a, const PhantomImage& b, uint8_t bit, int grow) {
  double out = 0;
  for (int y = 0; y < a.height; ++y)
    for (int x = 0; x < a.width; ++x) {
      bool near = false;
      for (int dy = -grow; dy <= grow && !near; ++dy)
        for (int dx = -grow; dx <= grow && !near; ++dx) {
          const int yy = y + dy, xx = x + dx;
          near = yy >= 0 && yy < a.height && xx >= 0 && xx < a.width && (a.mask[yy * a.width + xx] & bit);
        }
      if (!near) out += std::fabs(a.pixels[y * a.width + x] - b.pixels[y * a.width + x]);
    }
  return out;
}
}  // namespace

TEST_CASE("phantom: --signal-region puts the density effect in that bone only", "[phantom][image_io]") {
  PhantomOptions o;
  o.size = 160;
  PhantomSubject strong{"P1", 0.5, 60, 1234, 1}, weak = strong;
  weak.t_score = -3.5;
  // All bones (the default): a lower T-score changes the ribs too.
  const PhantomImage a0 = render_phantom(strong, 0, o), b0 = render_phantom(weak, 0, o);
  CHECK(diff_outside(a0, b0, kSpine, 6) > 1.0);
  CHECK(mean_in(a0, kRibs) > mean_in(b0, kRibs));
  // Spine only: outside the spine (and the few pixels the exam's blur spreads it) nothing
  // moves; inside, the weak spine is darker.
  o.signal_region = "spine";
  const PhantomImage a = render_phantom(strong, 0, o), b = render_phantom(weak, 0, o);
  CHECK(diff_outside(a, b, kSpine, 6) < 1e-3);
  CHECK(mean_in(a, kSpine) - mean_in(b, kSpine) > 0.02);
  o.signal_region = "skull";
  CHECK_THROWS_WITH(phantom_subjects(o), Catch::Contains("--signal-region must be spine"));
}

TEST_CASE("phantom: --shortcut-strength sets how much the marker says about the class", "[phantom][image_io]") {
  PhantomOptions o;
  o.size = 64;
  o.patients = 240;
  o.shortcut = "marker";
  auto gap = [&](double strength) {  // marker brightness, osteoporosis minus normal
    o.shortcut_strength = strength;
    double sum[3] = {0, 0, 0}, n[3] = {0, 0, 0};
    for (const auto& s : phantom_subjects(o)) {
      const int label = who_label(s.t_score);
      sum[label] += mean_in(render_phantom(s, 0, o), kMarker);
      n[label] += 1;
    }
    return sum[2] / n[2] - sum[0] / n[0];
  };
  const double full = gap(1.0), none = gap(0.0), half = gap(0.5);
  INFO("marker gap at strength 1, 0.5, 0: " << full << ", " << half << ", " << none);
  CHECK(full > 0.3);
  CHECK(std::fabs(none) < 0.1);
  CHECK(half > none);
  CHECK(half < full);
  o.shortcut = "none";
  CHECK_THROWS_WITH(phantom_subjects(o), Catch::Contains("--shortcut-strength needs --shortcut marker"));
}

TEST_CASE("phantom: --shortcut in-bone puts a class cue inside the ribs, without density", "[phantom][cli][image_io]") {
  PhantomOptions o;
  o.size = 112;
  o.patients = 150;
  o.effect = 0.0;  // no density signal anywhere: only the cue can tell the classes apart
  o.shortcut = "in-bone";
  double cue[3] = {0, 0, 0}, rest[3] = {0, 0, 0}, n[3] = {0, 0, 0};
  for (const auto& s : phantom_subjects(o)) {
    const PhantomImage img = render_phantom(s, 0, o);
    size_t in_cue = 0, outside_ribs = 0;
    for (const uint8_t m : img.mask) {
      in_cue += (m & kRibCue) != 0;
      outside_ribs += (m & kRibCue) && !(m & kRibs);
    }
    REQUIRE(in_cue > 0);
    CHECK(outside_ribs == 0);  // the cue lies inside the ribs
    const int label = who_label(s.t_score);
    cue[label] += mean_in(img, kRibCue);
    rest[label] += mean_in(img, kRibs, kRibCue);
    n[label] += 1;
  }
  const double cue_gap = cue[2] / n[2] - cue[0] / n[0], rest_gap = rest[2] / n[2] - rest[0] / n[0];
  INFO("cue gap " << cue_gap << ", rest of the ribs " << rest_gap);
  CHECK(cue_gap > 0.05);
  CHECK(std::fabs(rest_gap) < 0.02);
  o.shortcut = "sticker";
  CHECK_THROWS_WITH(phantom_subjects(o), Catch::Contains("--shortcut must be none, marker or in-bone"));
  // From the CLI: the cue is a region of its own in regions.json (a bone region: explain names it).
  TempDir dir;
  const CliResult r = run_osteofm("synth --out '" + (dir / "c") + "' --patients 3 --size 64 --shortcut in-bone");
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK_THAT(read_text(dir / "c/regions.json"), Catch::Contains("\"rib_cue\": 128"));
}

namespace {
// Every radiograph of public-cxr (PNG/JPEG; the DICOMs are decoder tests), with its V7 lung
// mask (255 = lung) where pairs.csv has one.
std::vector<RealismStats> public_cxr_realism() {
  const std::string root = shared("data/public-cxr");
  std::map<std::string, std::string> lung_mask_of;
  {
    std::istringstream in(read_text(root + "/v7labs-lung-masks/pairs.csv"));
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
      const auto c1 = line.find(','), c2 = line.find(',', c1 + 1);
      lung_mask_of[line.substr(0, c1)] = line.substr(c1 + 1, c2 - c1 - 1);
    }
  }
  std::vector<RealismStats> out;
  for (const char* folder : {"nih-chestxray14", "covid-chestxray-dataset/images", "hannover-covid19-repository/png"})
    for (const auto& e : fs::recursive_directory_iterator(root + "/" + folder)) {
      if (!e.is_regular_file()) continue;
      const GrayImage img = read_image(e.path().string());
      std::vector<uint8_t> lungs;
      const std::string rel = fs::relative(e.path(), root).string();
      if (lung_mask_of.count(rel)) {
        int w = 0, h = 0;
        lungs = read_png_u8(root + "/" + lung_mask_of[rel], &w, &h);
        REQUIRE(w == img.width);
        REQUIRE(h == img.height);
        for (auto& v : lungs) v = v == 255;
      }
      out.push_back(realism_stats(img.pixels, img.width, img.height, lungs));
    }
  return out;
}
}  // namespace

TEST_CASE("phantom: its intensity histogram, power spectrum and lung texture lie inside the range of real radiographs",
          "[phantom][realism][image_io]") {
  const std::vector<RealismStats> real = public_cxr_realism();
  REQUIRE(real.size() == 36);
  const RealismRange range = realism_range(real);
  REQUIRE(range.count[realism_names().size() - 1] == 20);  // lung statistics from the 20 V7 masks
  // Phantoms of every mode at the demo's render size and at 512 px, several patients each.
  std::vector<RealismStats> phantom;
  for (const auto& [shortcut, size] : std::vector<std::pair<std::string, int>>{{"none", 512}, {"marker", 512}, {"in-bone", 384}}) {
    PhantomOptions o;
    o.size = size;
    o.patients = 8;
    o.seed = 11;
    o.shortcut = shortcut;
    for (const auto& s : phantom_subjects(o)) {
      const PhantomImage img = render_phantom(s, 0, o);
      std::vector<uint8_t> lungs(img.mask.size());
      for (size_t i = 0; i < lungs.size(); ++i) lungs[i] = (img.mask[i] & kLungs) != 0;
      phantom.push_back(realism_stats(img.pixels, img.width, img.height, lungs));
      if (std::getenv("OSTEOFM_PRINT_REALISM")) {
        std::printf("%s %d %s:", shortcut.c_str(), size, s.patient_id.c_str());
        for (double v : realism_values(phantom.back())) std::printf(" %.3f", v);
        std::printf("\n");
      }
    }
  }
  const RealismRange ours = realism_range(phantom);
  std::ostringstream table;
  table << "statistic: real radiographs (n) | phantoms (n)\n";
  for (size_t k = 0; k < realism_names().size(); ++k)
    table << "  " << realism_names()[k] << ": " << range.lo[k] << ".." << range.hi[k] << " (" << range.count[k] << ") | "
          << ours.lo[k] << ".." << ours.hi[k] << " (" << ours.count[k] << ")\n";
  INFO(table.str());
  if (std::getenv("OSTEOFM_PRINT_REALISM")) std::printf("%s", table.str().c_str());
  size_t outside = 0;
  for (const auto& s : phantom) {
    const auto lines = realism_outside(s, range);
    for (const auto& l : lines) UNSCOPED_INFO(l);
    outside += lines.size();
  }
  CHECK(outside == 0);
}

TEST_CASE("realism statistics: white noise is flat, a smooth ramp is steep, the window removes exposure", "[realism][image_io]") {
  const int S = 256;
  std::vector<float> noise(S * S), ramp(S * S), dim(S * S);
  SplitMix64 g(5);
  for (int y = 0; y < S; ++y)
    for (int x = 0; x < S; ++x) {
      noise[y * S + x] = static_cast<float>(g.uniform());
      ramp[y * S + x] = static_cast<float>(std::sin(x * 0.02) + std::cos(y * 0.015));
    }
  for (size_t i = 0; i < dim.size(); ++i) dim[i] = 0.2f + 0.3f * noise[i];  // same image, other exposure
  const RealismStats n = realism_stats(noise, S, S), r = realism_stats(ramp, S, S), d = realism_stats(dim, S, S);
  CHECK(std::fabs(n.spectrum_slope) < 0.3);
  CHECK(r.spectrum_slope > 3.0);
  CHECK(d.mean == Approx(n.mean).margin(1e-5));
  CHECK(d.q50 == Approx(n.q50).margin(1e-5));
  CHECK(d.spectrum_slope == Approx(n.spectrum_slope).margin(1e-4));
  CHECK_FALSE(n.has_lungs);
  CHECK(std::isnan(realism_values(n)[7]));
  // A lung mask of the wrong size is a clear error.
  CHECK_THROWS_WITH(realism_stats(noise, S, S, std::vector<uint8_t>(10, 1)), Catch::Contains("lung mask has 10 pixels"));
}
