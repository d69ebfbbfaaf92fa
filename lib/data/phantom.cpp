#include "data/phantom.hpp"

#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/atomic_file.hpp"
#include "core/csv.hpp"
#include "core/error.hpp"
#include "core/parallel.hpp"
#include "core/labels.hpp"
#include "core/random.hpp"
#include "data/phantom_random.hpp"
#include "data/split.hpp"
#include "eval/metrics.hpp"
#include "io/image.hpp"

#if OSTEOFM_WITH_IMAGE_IO
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "io/annotate.hpp"
#endif

namespace osteofm {
namespace fs = std::filesystem;
using phantom_detail::mix;
using phantom_detail::Rng;

std::array<double, 2> t_score_distribution(const std::array<double, 3>& mix_) {
  // P(T >= -1) = normal share, P(T <= -2.5) = osteoporosis share: two quantiles fix mu, sigma.
  auto probit = [](double p) {  // Acklam-free: bisection on erfc is plenty here
    double lo = -10, hi = 10;
    for (int i = 0; i < 200; ++i) {
      const double mid = (lo + hi) / 2;
      (0.5 * std::erfc(-mid / std::sqrt(2.0)) < p ? lo : hi) = mid;
    }
    return (lo + hi) / 2;
  };
  const double z_normal = probit(1.0 - mix_[0]);  // (-1 - mu) / sigma
  const double z_osteo = probit(mix_[2]);         // (-2.5 - mu) / sigma
  const double sigma = 1.5 / (z_normal - z_osteo);
  const double mu = -1.0 - z_normal * sigma;
  return {mu, sigma};
}

std::vector<PhantomSubject> phantom_subjects(const PhantomOptions& o) {
  const double total = o.class_mix[0] + o.class_mix[1] + o.class_mix[2];
  if (o.patients < 1) throw InputError("--patients must be at least 1");
  // 4096 px: a detector's side (~43 cm at 0.1 mm); --size 100000 ran for minutes towards 40 GB.
  if (o.size < 64 || o.size > 4096) throw InputError("--size must be 64..4096 pixels, not " + std::to_string(o.size));
  if (o.images_min < 1 || o.images_max < o.images_min) throw InputError("--images-per-patient must be A-B with 1 <= A <= B");
  if (std::fabs(total - 1.0) > 1e-6 || o.class_mix[0] <= 0 || o.class_mix[1] <= 0 || o.class_mix[2] <= 0)
    throw InputError("--class-mix must be three positive shares summing to 1");
  if (!o.signal_region.empty() && o.signal_region != "spine" && o.signal_region != "ribs" &&
      o.signal_region != "clavicles" && o.signal_region != "scapulae" && o.signal_region != "humeri")
    throw InputError("--signal-region must be spine, ribs, clavicles, scapulae or humeri, not '" + o.signal_region + "'");
  if (!(o.shortcut_strength >= 0.0 && o.shortcut_strength <= 1.0))
    throw InputError("--shortcut-strength must be in [0, 1]");
  if (o.shortcut != "none" && o.shortcut != "marker" && o.shortcut != "in-bone")
    throw InputError("--shortcut must be none, marker or in-bone, not '" + o.shortcut + "'");
  if (o.shortcut_strength < 1.0 && o.shortcut == "none")
    throw InputError("--shortcut-strength needs --shortcut marker or in-bone");
  const auto dist = t_score_distribution(o.class_mix);
  std::vector<PhantomSubject> out;
  for (int p = 0; p < o.patients; ++p) {
    Rng r(mix(o.seed, static_cast<uint64_t>(p)));
    PhantomSubject s;
    char id[32];
    std::snprintf(id, sizeof id, "PH%05d", p + 1);
    s.patient_id = id;
    s.t_score = std::clamp(r.normal(dist[0], dist[1]), -5.5, 3.0);
    // Women 50+: older women have lower T-scores (weakly).
    s.age = std::clamp(66.0 - 4.0 * (s.t_score - dist[0]) + r.normal(0, 7), 50.0, 92.0);
    s.images = o.images_min + static_cast<int>(r.g.below(static_cast<uint64_t>(o.images_max - o.images_min + 1)));
    s.seed = r.g.next();
    out.push_back(s);
  }
  return out;
}

#if OSTEOFM_WITH_IMAGE_IO
void write_phantom_preview(const std::string& path, const PhantomImage& img) {
  // Upscaled to at least 448 px so thin ribs and their outlines can be told apart, the
  // radiograph alone beside the outlined one, and a legend naming each colour.
  const int scale = std::max(1, (448 + std::max(img.width, img.height) - 1) / std::max(img.width, img.height));
  cv::Mat g(img.height, img.width, CV_32F, const_cast<float*>(img.pixels.data())), g8, plain;
  g.convertTo(g8, CV_8U, 255.0);
  cv::resize(g8, g8, cv::Size(img.width * scale, img.height * scale), 0, 0, cv::INTER_CUBIC);
  cv::cvtColor(g8, plain, cv::COLOR_GRAY2BGR);
  cv::Mat outlined = plain.clone();
  const std::tuple<uint8_t, cv::Scalar, const char*> regions[] = {
      {kSpine, {40, 40, 230}, "spine"},     {kRibs, {0, 140, 255}, "ribs"},    {kClavicles, {0, 230, 230}, "clavicles"},
      {kScapulae, {60, 200, 60}, "scapulae"}, {kHumeri, {230, 230, 0}, "humeri"}, {kLungs, {230, 90, 40}, "lungs (control)"},
      {kMarker, {230, 60, 230}, "marker (control)"}, {kRibCue, {255, 255, 255}, "rib cue (shortcut)"}};
  cv::Mat m(img.height, img.width, CV_8U, const_cast<uint8_t*>(img.mask.data()));
  std::vector<LegendEntry> legend;
  for (const auto& [bit, colour, name] : regions) {
    if (cv::countNonZero((m & bit) != 0) == 0) continue;
    draw_region_contours(outlined, m, bit, colour, scale, 2);
    legend.push_back({name, colour});
  }
  label_panel(plain, "phantom radiograph");
  label_panel(outlined, "region masks");
  const cv::Mat panels = hstack_panels({plain, outlined});
  write_png_atomic(path, vstack_panels({caption_band(panels.cols, fs::path(path).stem().string() + ": synthetic phantom, " +
                                                                      std::to_string(img.width) + " px, outlines = mask bits"),
                                        panels, legend_band(panels.cols, legend)}));
}
#else
void write_phantom_preview(const std::string& path, const PhantomImage&) {
  throw InputError(path + ": previews need image I/O (OSTEOFM_WITH_IMAGE_IO=OFF)");
}
#endif

namespace {
double mean_bone_intensity(const PhantomImage& img) {
  double sum = 0;
  size_t n = 0;
  for (size_t k = 0; k < img.pixels.size(); ++k)
    if (img.mask[k] & kAllBones) {
      sum += img.pixels[k];
      ++n;
    }
  return n ? sum / n : 0.0;
}

// Osteoporosis vs rest, scored by minus the bone brightness (less bone, more likely).
double baseline_auc(const std::vector<double>& bone_means, const std::vector<int>& labels) {
  std::vector<double> score(bone_means.size());
  std::vector<uint8_t> positive(bone_means.size());
  for (size_t i = 0; i < bone_means.size(); ++i) {
    score[i] = -bone_means[i];
    positive[i] = labels[i] == kOsteoporosis;
  }
  return RankedProblem(score, positive).auc();
}
}  // namespace

double phantom_baseline_auc(const std::vector<PhantomImage>& images, const std::vector<int>& labels) {
  std::vector<double> means;
  for (const auto& img : images) means.push_back(mean_bone_intensity(img));
  return baseline_auc(means, labels);
}

PhantomSummary write_phantom_cohort(const std::string& dir, const PhantomOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  if (!image_io_available())
    throw InputError(dir + ": synth draws and writes PNGs, which this build lacks (OSTEOFM_WITH_IMAGE_IO=OFF)");
  // Rendering allocates and frees many 1 MB planes; without this glibc maps and unmaps
  // each one and page faults cost more than the drawing.
  mallopt(M_MMAP_THRESHOLD, 256 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 512 * 1024 * 1024);
  const std::vector<PhantomSubject> subjects = phantom_subjects(o);
  struct Job {
    size_t subject;
    int exam;
    std::string image_id;
  };
  std::vector<Job> jobs;
  for (size_t s = 0; s < subjects.size(); ++s)
    for (int e = 0; e < subjects[s].images; ++e) jobs.push_back({s, e, subjects[s].patient_id + "_" + std::to_string(e + 1)});
  fs::create_directories(fs::path(dir) / "images");
  fs::create_directories(fs::path(dir) / "masks");

  // Bone-intensity feature of every image, kept for the baseline (not the images).
  std::vector<double> bone_mean(jobs.size());
  parallel_for(jobs.size(), o.threads, [&](size_t j, int) {
    const Job& job = jobs[j];
    PhantomImage img = render_phantom(subjects[job.subject], job.exam, o);
    if (static_cast<int>(j) < o.previews) {
      fs::create_directories(fs::path(dir) / "previews");
      write_phantom_preview((fs::path(dir) / "previews" / (job.image_id + ".png")).string(), img);
    }
    GrayImage g;
    g.width = img.width;
    g.height = img.height;
    g.pixels = img.pixels;
    write_png((fs::path(dir) / "images" / (job.image_id + ".png")).string(), g, 16);
    write_png_u8((fs::path(dir) / "masks" / (job.image_id + ".png")).string(), img.width, img.height, img.mask);
    bone_mean[j] = mean_bone_intensity(img);
  });

  // Patient-level stratified split through the same code as `osteofm data split`.
  std::string csv = "image_id,patient_id,path,mask,t_score,age\n";
  for (const auto& job : jobs) {
    const auto& s = subjects[job.subject];
    csv += csv_line({job.image_id, s.patient_id, "images/" + job.image_id + ".png", "masks/" + job.image_id + ".png",
                     format_double(std::round(s.t_score * 100) / 100), format_double(std::round(s.age))});
  }
  Manifest m = parse_manifest_text(csv, (fs::path(dir) / "manifest.csv").string(), dir);
  apply_splits(m, assign_patient_splits(m, {o.split[0], o.split[1], o.split[2]}, o.seed));
  write_manifest(m, (fs::path(dir) / "manifest.csv").string());
  nlohmann::json regions = {{"spine", kSpine}, {"ribs", kRibs}, {"clavicles", kClavicles},
                            {"scapulae", kScapulae}, {"humeri", kHumeri}, {"lungs", kLungs}};
  if (o.shortcut == "marker") regions["marker"] = kMarker;
  if (o.shortcut == "in-bone") regions["rib_cue"] = kRibCue;
  write_file_atomic((fs::path(dir) / "regions.json").string(), regions.dump(2) + "\n");

  PhantomSummary sum;
  sum.images = jobs.size();
  sum.patients = subjects.size();
  std::vector<int> labels;
  for (const auto& job : jobs) {
    labels.push_back(who_label(std::round(subjects[job.subject].t_score * 100) / 100));
    sum.class_counts[labels.back()]++;
  }
  sum.baseline_auc = baseline_auc(bone_mean, labels);
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return sum;
}

}  // namespace osteofm
