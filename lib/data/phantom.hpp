// A synthetic chest-radiograph cohort with exact bone masks (osteofm synth): frontal
// views whose bone mineral density, set by each patient's T-score, lowers cortical
// brightness and thins trabecular texture, strongest in the spine and ribs.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace osteofm {

struct PhantomOptions {
  int patients = 200;
  int images_min = 1, images_max = 2;     // exams per patient
  int size = 512;                         // pixels (square)
  uint64_t seed = 1;
  std::string shortcut = "none";          // none | marker | in-bone
  double effect = 1.0;                    // bone-density effect size (0: no signal)
  // The density effect in one bone region only ("spine", "ribs", "clavicles", "scapulae",
  // "humeri"; "" = all bones): a model can then only read it there, which makes Δbone of
  // that region's add-back and its IoU the ones that must stand out.
  std::string signal_region;
  // --shortcut marker / in-bone: the share of exams whose cue encodes the true class; the others
  // encode a class drawn at random (1 = a perfect shortcut, 0 = no information).
  double shortcut_strength = 1.0;
  std::array<double, 3> class_mix{0.35, 0.45, 0.20};  // normal, osteopenia, osteoporosis
  std::array<double, 3> split{0.7, 0.1, 0.2};
  int threads = 0;
  int previews = 0;  // also write this many previews/*.png (image + region outlines)
};

// Region bits of the masks (design.md): a pixel may be in several regions.
constexpr uint8_t kSpine = 1, kRibs = 2, kClavicles = 4, kScapulae = 8, kHumeri = 16, kLungs = 32;
constexpr uint8_t kMarker = 64;  // --shortcut marker only: the burned-in marker (a control region)
constexpr uint8_t kRibCue = 128;  // --shortcut in-bone only: the class cue inside the ribs (a bone region)
constexpr uint8_t kAllBones = kSpine | kRibs | kClavicles | kScapulae | kHumeri;

struct PhantomImage {
  int width = 0, height = 0;
  std::vector<float> pixels;  // [0,1], bone bright
  std::vector<uint8_t> mask;  // region bits
};

struct PhantomSubject {
  std::string patient_id;
  double t_score = 0, age = 0;
  uint64_t seed = 0;
  int images = 1;
};

// The T-score distribution N(mu, sigma) whose WHO classes have the given shares.
std::array<double, 2> t_score_distribution(const std::array<double, 3>& class_mix);

// Patients with their T-scores, ages and exam counts (deterministic in options.seed).
std::vector<PhantomSubject> phantom_subjects(const PhantomOptions& options);

// One exam of one patient (deterministic in subject.seed and exam).
PhantomImage render_phantom(const PhantomSubject& subject, int exam, const PhantomOptions& options);

struct PhantomSummary {
  size_t images = 0, patients = 0;
  std::array<size_t, 3> class_counts{};
  double baseline_auc = 0;  // osteoporosis vs rest, mean intensity inside the bone masks
  double seconds = 0;
};

// Writes DIR/images/*.png (16 bit), DIR/masks/*.png (bit-coded), DIR/regions.json and
// DIR/manifest.csv (patient-level stratified splits). Same options => identical bytes.
PhantomSummary write_phantom_cohort(const std::string& dir, const PhantomOptions& options);

// The radiograph in grey with each region's outline in its own colour (spine red, ribs
// orange, clavicles yellow, scapulae green, humeri cyan, lungs blue), as PNG.
void write_phantom_preview(const std::string& path, const PhantomImage& image);

// The documented baseline: AUC of osteoporosis vs rest scored by minus the mean image
// intensity inside all bone masks (a one-feature logistic regression ranks the same).
double phantom_baseline_auc(const std::vector<PhantomImage>& images, const std::vector<int>& labels);

}  // namespace osteofm
