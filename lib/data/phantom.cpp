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

namespace {
constexpr double kPi = 3.14159265358979323846;

// Deterministic random numbers for one patient or exam.
struct Rng {
  SplitMix64 g;
  explicit Rng(uint64_t seed) : g(seed) {}
  double uniform(double a, double b) { return a + (b - a) * g.uniform(); }
  double normal(double mean, double sd) {  // Box-Muller
    double u1 = g.uniform(), u2 = g.uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    return mean + sd * std::sqrt(-2.0 * std::log(u1)) * std::cos(2 * kPi * u2);
  }
};

uint64_t mix(uint64_t a, uint64_t b) {
  SplitMix64 s(a * 0x9E3779B97F4A7C15ull ^ (b + 0x632BE59BD9B4E019ull));
  return s.next();
}
}  // namespace

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
namespace {
struct Anatomy {  // per patient, in units of the image size
  double cx, body_w, lung_top, lung_bottom, lung_w, heart_w, heart_h, rot_deg, spine_w;
  int ribs;
  double rib_thick, breast;
};

Anatomy patient_anatomy(Rng& r) {
  Anatomy a;
  a.cx = 0.5 + r.normal(0, 0.012);
  a.body_w = r.uniform(0.80, 0.94);
  const double insp = r.uniform(0.88, 1.08);
  a.lung_top = r.uniform(0.10, 0.14);
  a.lung_bottom = a.lung_top + 0.66 * insp;
  a.lung_w = 0.19 * a.body_w / 0.87 * r.uniform(0.93, 1.07);
  a.heart_w = r.uniform(0.13, 0.18);
  a.heart_h = r.uniform(0.14, 0.19);
  a.rot_deg = r.normal(0, 1.5);
  a.spine_w = r.uniform(0.060, 0.072);
  a.ribs = 10 + static_cast<int>(r.g.below(3));
  a.rib_thick = r.uniform(0.016, 0.021);
  a.breast = r.uniform(0.015, 0.045);
  return a;
}

cv::Point P(double x, double y, int S) { return cv::Point(static_cast<int>(std::lround(x * S * 16)), static_cast<int>(std::lround(y * S * 16))); }

void polyline(cv::Mat& m, const std::vector<cv::Point>& pts, double thick, int S, uint8_t value = 255) {
  cv::polylines(m, pts, false, cv::Scalar(value), std::max(1, static_cast<int>(std::lround(thick * S))), cv::LINE_AA, 4);
}
}  // namespace

PhantomImage render_phantom(const PhantomSubject& subject, int exam, const PhantomOptions& o) {
  const int S = o.size;
  if (S < 64) throw InputError("--size must be at least 64");
  Rng pr(subject.seed);
  const Anatomy a = patient_anatomy(pr);
  Rng er(mix(subject.seed, 1000 + static_cast<uint64_t>(exam)));
  const double cx = a.cx + er.normal(0, 0.006), shift_y = er.normal(0, 0.006);

  // Masks of each region (anti-aliased drawing, thresholded later for the bit masks).
  cv::Mat body = cv::Mat::zeros(S, S, CV_8U), lungs = body.clone(), heart = body.clone(), breast = body.clone();
  cv::Mat spine = body.clone(), ribs = body.clone(), ribs_ant = body.clone(), clav = body.clone(), scap = body.clone(),
          hum = body.clone();
  cv::ellipse(body, P(cx, 0.62 + shift_y, S), cv::Size(int(a.body_w / 2 * S * 16), int(0.62 * S * 16)), 0, 0, 360,
              cv::Scalar(255), -1, cv::LINE_AA, 4);
  cv::rectangle(body, P(cx - a.body_w / 2 - 0.05, 0.0, S), P(cx + a.body_w / 2 + 0.05, 0.25, S), cv::Scalar(255), -1,
                cv::LINE_AA, 4);  // shoulders
  const double top = a.lung_top + shift_y, bottom = a.lung_bottom + shift_y;
  for (int side : {-1, 1}) {
    // Lung: apex, lateral wall, costophrenic angle, diaphragm dome, medial border.
    std::vector<cv::Point> lung;
    const double med = cx + side * 0.045, lat = cx + side * (0.045 + 2 * a.lung_w);
    const int n = 24;
    for (int i = 0; i <= n; ++i) {  // lateral wall from apex down
      const double t = double(i) / n;
      const double x = med + (lat - med) * std::sin(std::min(1.0, 0.35 + 0.9 * t) * kPi / 2);
      lung.push_back(P(x, top + (bottom - top) * t, S));
    }
    for (int i = 0; i <= n; ++i) {  // diaphragm dome, medial part higher
      const double t = double(i) / n;
      const double x = lat + (med - lat) * t;
      lung.push_back(P(x, bottom - 0.07 * std::sin(t * kPi * 0.9) - 0.03 * t, S));
    }
    lung.push_back(P(med, top + 0.05, S));
    cv::fillPoly(lungs, std::vector<std::vector<cv::Point>>{lung}, cv::Scalar(255), cv::LINE_AA, 4);
    // Breast shadow, lower lateral.
    cv::ellipse(breast, P(cx + side * 0.22, bottom - 0.02, S), cv::Size(int(0.17 * S * 16), int(0.11 * S * 16)), 0, 0,
                360, cv::Scalar(255), -1, cv::LINE_AA, 4);
    // Ribs: posterior arcs from the spine outwards and down, fainter anterior arcs back in.
    const double dy = (bottom - top - 0.02) / a.ribs;
    for (int k = 0; k < a.ribs; ++k) {
      const double y0 = top - 0.02 + k * dy;
      const double reach = 2 * a.lung_w + 0.06 + 0.01 * std::sin(k * 0.5);
      std::vector<cv::Point> post, ant;
      for (int i = 0; i <= 20; ++i) {
        const double t = i / 20.0;
        post.push_back(P(cx + side * (0.03 + reach * std::sin(t * kPi / 2)), y0 - 0.025 * std::sin(t * kPi) + 0.075 * t * t, S));
      }
      const double xl = cx + side * (0.03 + reach), yl = y0 + 0.075;
      for (int i = 0; i <= 20; ++i) {
        const double t = i / 20.0;
        ant.push_back(P(xl - side * (reach - 0.16) * std::sin(t * kPi / 2), yl + 0.08 * t, S));
      }
      polyline(ribs, post, a.rib_thick * (1.0 - 0.015 * k), S);
      if (k < a.ribs - 2) polyline(ribs_ant, ant, a.rib_thick * 0.75, S);
    }
    // Clavicle: S-curve from the manubrium to the acromion.
    std::vector<cv::Point> cl;
    for (int i = 0; i <= 20; ++i) {
      const double t = i / 20.0;
      cl.push_back(P(cx + side * (0.035 + 0.30 * t), top + 0.015 - 0.06 * t + 0.015 * std::sin(t * 2 * kPi), S));
    }
    polyline(clav, cl, 0.024, S);
    // Scapula: a triangle whose medial border overlaps the lung's upper lateral part.
    std::vector<cv::Point> sc = {P(cx + side * 0.30, top - 0.01, S), P(cx + side * (0.20 + 2 * a.lung_w * 0.55), top + 0.05, S),
                                 P(cx + side * (2 * a.lung_w + 0.03), top + 0.30, S), P(cx + side * 0.44, top + 0.02, S)};
    cv::fillConvexPoly(scap, sc, cv::Scalar(255), cv::LINE_AA, 4);
    // Humeral head and the top of the shaft, at the upper corners.
    const double hx = cx + side * (a.body_w / 2 + 0.01);
    cv::circle(hum, P(hx, top + 0.02, S), int(0.065 * S * 16), cv::Scalar(255), -1, cv::LINE_AA, 4);
    cv::rectangle(hum, P(hx - 0.04, top + 0.03, S), P(hx + 0.04, top + 0.30, S), cv::Scalar(255), -1, cv::LINE_AA, 4);
  }
  // Heart, mostly to the patient's left (image right).
  cv::ellipse(heart, P(cx + 0.06, bottom - a.heart_h * 1.05, S), cv::Size(int(a.heart_w * S * 16), int(a.heart_h * S * 16)),
              -20, 0, 360, cv::Scalar(255), -1, cv::LINE_AA, 4);
  // Spine: vertebral bodies with discs between them.
  {
    double y = 0.0;
    int k = 0;
    while (y < 1.0) {
      const double h = 0.038 + 0.0012 * k, w = a.spine_w * (1 + 0.01 * k);
      const cv::Point p0 = P(cx - w / 2, y, S), p1 = P(cx + w / 2, y + h, S);
      cv::rectangle(spine, p0, p1, cv::Scalar(255), -1, cv::LINE_AA, 4);
      y += h + 0.009;
      ++k;
    }
  }
  cv::Mat all_ribs;
  cv::max(ribs, ribs_ant, all_ribs);

  // Bone density: cortical rims and trabecular texture, both scaled by BMD.
  const double z = subject.t_score + 1.5;               // 0 at the cohort mean
  const double e = o.effect;
  cv::Mat texture(S, S, CV_32F);
  {
    // cv::RNG (multiply-with-carry) is seeded explicitly: the same bytes on every platform.
    cv::Mat noise(S, S, CV_32F);
    cv::RNG tg(mix(subject.seed, 77 + exam));
    tg.fill(noise, cv::RNG::UNIFORM, 0.0f, 1.0f);
    const double sig = std::max(0.6, S / 512.0 * 1.2);
    cv::GaussianBlur(noise, texture, cv::Size(0, 0), sig);
    cv::normalize(texture, texture, 0, 1, cv::NORM_MINMAX);
  }
  // Trabecular struts: texture above a threshold that rises as BMD falls (thinner, sparser).
  // With a signal region, the other bones get the cohort-mean struts (no density signal).
  auto struts_for = [&](double effect) {
    const double thr = std::clamp(0.50 - 0.05 * effect * z, 0.30, 0.75);
    cv::Mat st;
    cv::threshold(texture, st, thr, 1.0, cv::THRESH_BINARY);
    return st;
  };
  const cv::Mat struts = struts_for(e), flat_struts = o.signal_region.empty() ? struts : struts_for(0.0);
  auto bone_density = [&](const cv::Mat& m8, double strength, double cortical, double trabecular, const char* region) {
    const bool signal = o.signal_region.empty() || o.signal_region == region;
    const double er_ = signal ? e : 0.0;
    cv::Mat m, inner, rim;
    m8.convertTo(m, CV_32F, 1.0 / 255);
    const int r = std::max(1, S / 170);
    cv::erode(m, inner, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(2 * r + 1, 2 * r + 1)));
    rim = m - inner;
    const double c = cortical * (1 + 0.14 * strength * er_ * z);
    const double t = trabecular * (1 + 0.20 * strength * er_ * z);
    cv::Mat d = rim * c + inner.mul(0.45 * t + 0.55 * t * (signal ? struts : flat_struts));
    return d;
  };
  cv::Mat A(S, S, CV_32F, cv::Scalar(0.04));
  auto add = [&](const cv::Mat& m8, double v) {
    cv::Mat f;
    m8.convertTo(f, CV_32F, v / 255.0);
    A += f;
  };
  add(body, 0.30 + 0.0004 * (subject.age - 66));  // soft tissue: a weak, age-related signal
  add(breast, a.breast);
  add(heart, 0.17);
  {
    cv::Mat mediast = cv::Mat::zeros(S, S, CV_8U);
    cv::rectangle(mediast, P(cx - 0.07, 0, S), P(cx + 0.07, 1, S), cv::Scalar(255), -1, cv::LINE_AA, 4);
    add(mediast, 0.10);
  }
  {
    cv::Mat l;
    lungs.convertTo(l, CV_32F, 1.0 / 255);
    A -= l * 0.20;  // air
  }
  A += bone_density(spine, 1.0, 0.30, 0.20, "spine");
  A += bone_density(ribs, 1.0, 0.22, 0.10, "ribs");
  A += bone_density(ribs_ant, 1.0, 0.12, 0.05, "ribs");
  A += bone_density(clav, 0.5, 0.25, 0.12, "clavicles");
  A += bone_density(scap, 0.5, 0.10, 0.05, "scapulae");
  A += bone_density(hum, 0.5, 0.25, 0.14, "humeri");

  // Shortcut: a burned-in marker outside all bones whose brightness follows the class.
  // About one ViT patch at the demo sizes, like a lead side marker; its mask bit (64) makes
  // it a control region that explain reports.
  cv::Mat marker_region = cv::Mat::zeros(S, S, CV_8U), cue_region = cv::Mat::zeros(S, S, CV_8U);
  // The class a shortcut encodes: the true one, or with --shortcut-strength < 1 sometimes a
  // random one (its own stream: the exam's is left as it was, strength 1 keeps every byte).
  auto shortcut_label = [&] {
    int label = who_label(subject.t_score);
    if (o.shortcut_strength < 1.0) {
      Rng sr(mix(subject.seed, 900 + static_cast<uint64_t>(exam)));
      if (sr.uniform(0.0, 1.0) >= o.shortcut_strength)
        label = std::min(kNumClasses - 1, static_cast<int>(sr.uniform(0.0, kNumClasses)));
    }
    return label;
  };
  if (o.shortcut == "in-bone") {
    // A cue inside the ribs: a patch-sized square of the left lung field's posterior ribs,
    // brighter by class, with no density change. A model that reads it scores inside the
    // bones without reading bone; its own bit (128, "rib_cue", a bone region of the table)
    // lets explain name it.
    cv::Mat square = cv::Mat::zeros(S, S, CV_8U);
    cv::rectangle(square, P(0.24, 0.38, S), P(0.36, 0.50, S), cv::Scalar(255), -1, cv::LINE_8, 4);
    cv::bitwise_and(square, all_ribs, cue_region);
    cv::threshold(cue_region, cue_region, 127, 255, cv::THRESH_BINARY);
    add(cue_region, 0.06 * shortcut_label());
  }
  if (o.shortcut == "marker") {
    const int label = shortcut_label();
    const double level = 0.35 + 0.25 * label + er.normal(0, 0.05);
    cv::rectangle(A, P(0.03, 0.80, S), P(0.17, 0.94, S), cv::Scalar(level), -1, cv::LINE_AA, 4);
    cv::rectangle(marker_region, P(0.03, 0.80, S), P(0.17, 0.94, S), cv::Scalar(255), -1, cv::LINE_8, 4);
  }

  // Exam: small rotation, blur, contrast curve, exposure, noise.
  const double rot = a.rot_deg + er.normal(0, 1.0);
  const cv::Mat M = cv::getRotationMatrix2D(cv::Point2f(S / 2.0f, S / 2.0f), rot, 1.0);
  cv::Mat Ar;
  cv::warpAffine(A, Ar, M, A.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar(0.04));
  cv::GaussianBlur(Ar, Ar, cv::Size(0, 0), er.uniform(0.9, 1.8) * S / 512.0 + 0.2);
  const double gamma = er.uniform(0.85, 1.2), gain = er.uniform(0.9, 1.12);
  const double noise_sd = er.uniform(0.008, 0.02);
  cv::Mat out, noise(S, S, CV_32F);
  cv::max(Ar, 0.0, Ar);
  cv::pow(Ar, gamma, out);
  cv::RNG ng(mix(subject.seed, 500 + exam));
  ng.fill(noise, cv::RNG::NORMAL, 0.0, noise_sd);
  out = out * gain + noise;
  cv::min(cv::max(out, 0.0), 1.0, out);

  // Masks: each region rotated with the image (nearest neighbour), bits combined.
  PhantomImage img;
  img.width = img.height = S;
  img.pixels.assign(out.ptr<float>(), out.ptr<float>() + S * S);
  img.mask.assign(S * S, 0);
  const std::pair<const cv::Mat*, uint8_t> regions[] = {{&spine, kSpine}, {&all_ribs, kRibs}, {&clav, kClavicles},
                                                        {&scap, kScapulae}, {&hum, kHumeri}, {&lungs, kLungs},
                                                        {&marker_region, kMarker}, {&cue_region, kRibCue}};
  for (const auto& [m, bit] : regions) {
    cv::Mat r;
    cv::warpAffine(*m, r, M, m->size(), cv::INTER_NEAREST, cv::BORDER_CONSTANT, cv::Scalar(0));
    const uint8_t* p = r.ptr<uint8_t>();
    for (int i = 0; i < S * S; ++i)
      if (p[i] >= 128) img.mask[i] |= bit;
  }
  return img;
}
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
PhantomImage render_phantom(const PhantomSubject&, int, const PhantomOptions&) {
  throw InputError("synth: this osteofm was built without image I/O (OSTEOFM_WITH_IMAGE_IO=OFF)");
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
