// One phantom radiograph: the anatomy as it projects on a PA chest film, an attenuation map
// built from it, and the exposure that turns the map into pixels. Drawn so that its
// intensity histogram, power spectrum and lung texture fall inside the range of the real
// radiographs in shared/data/public-cxr (tests/test_phantom.cpp, data/image_realism.hpp),
// while every bone mask stays exact: each region is one drawn shape, and its mask is that
// shape.
//
// Image left is the patient's right (PA view). Coordinates are in units of the image size.
#include <algorithm>
#include <cmath>
#include <functional>

#include "core/error.hpp"
#include "core/labels.hpp"
#include "data/phantom.hpp"
#include "data/phantom_random.hpp"

#if OSTEOFM_WITH_IMAGE_IO
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#endif

namespace osteofm {

#if OSTEOFM_WITH_IMAGE_IO
namespace {
using phantom_detail::kPi;
using phantom_detail::mix;
using phantom_detail::Rng;

struct Anatomy {  // one patient's body, fixed across exams
  double cx;                       // midline
  double thorax;                   // half-width of the rib cage at its widest
  double lung_top;                 // apices
  double dome_right, dome_left;    // diaphragm domes; the right (image left) is higher
  double heart_ctr;                // cardiothoracic ratio
  double mediastinum;              // half-width of the upper mediastinum
  double rot_deg, spine_w;
  int ribs;                        // posterior ribs above the diaphragm
  double rib_thick, breast, soft;  // soft: soft-tissue thickness factor
  double arm_gap;                  // air between arm and chest wall (0: touching)
  bool gastric_bubble;
};

Anatomy patient_anatomy(Rng& r) {
  Anatomy a;
  a.cx = 0.5 + r.normal(0, 0.012);
  a.thorax = r.uniform(0.35, 0.41);
  const double inspiration = r.uniform(0.90, 1.06);
  a.lung_top = r.uniform(0.08, 0.12);
  a.dome_right = a.lung_top + 0.58 * inspiration;
  a.dome_left = a.dome_right + r.uniform(0.015, 0.04);
  a.heart_ctr = r.uniform(0.40, 0.52);
  a.mediastinum = r.uniform(0.050, 0.068);
  a.rot_deg = r.normal(0, 1.5);
  a.spine_w = r.uniform(0.060, 0.072);
  a.ribs = 9 + static_cast<int>(r.g.below(2));
  a.rib_thick = r.uniform(0.016, 0.021);
  a.breast = r.uniform(0.0, 1.0);
  a.soft = r.uniform(0.95, 1.05);
  a.arm_gap = r.uniform(0.0, 0.025);
  a.gastric_bubble = r.uniform(0.0, 1.0) < 0.7;
  return a;
}

// Fixed-point (4 fractional bits) pixel position of (x, y).
cv::Point P(double x, double y, int S) {
  return cv::Point(static_cast<int>(std::lround(x * S * 16)), static_cast<int>(std::lround(y * S * 16)));
}
int px(double v, int S) { return std::max(1, static_cast<int>(std::lround(v * S))); }
void fill(cv::Mat& m, const std::vector<cv::Point>& poly) {
  cv::fillPoly(m, std::vector<std::vector<cv::Point>>{poly}, cv::Scalar(255), cv::LINE_AA, 4);
}
void polyline(cv::Mat& m, const std::vector<cv::Point>& pts, double thick, int S) {
  cv::polylines(m, pts, false, cv::Scalar(255), px(thick, S), cv::LINE_AA, 4);
}
cv::Mat unit(const cv::Mat& m8) {  // 0..255 mask -> 0..1 float
  cv::Mat f;
  m8.convertTo(f, CV_32F, 1.0 / 255);
  return f;
}
// The bounding box of a mask's non-zero pixels grown by `margin`, inside the image.
cv::Rect grown_box(const cv::Mat& m8, int margin) {
  const cv::Rect box = cv::boundingRect(m8);
  return cv::Rect(box.x - margin, box.y - margin, box.width + 2 * margin, box.height + 2 * margin) &
         cv::Rect(0, 0, m8.cols, m8.rows);
}

// The mask (0..255) as 0..1, Gaussian-blurred. Only its bounding box plus the kernel's
// reach (4 sigma, OpenCV's float kernel) is filtered: outside it the result is 0 anyway,
// and most shapes are small.
cv::Mat blurred(const cv::Mat& m8, double sigma_units, int S) {  // m8: CV_8U
  const double sigma = std::max(0.5, sigma_units * S);
  cv::Mat out = cv::Mat::zeros(m8.size(), CV_32F);
  const cv::Rect box = grown_box(m8, static_cast<int>(std::ceil(4 * sigma)) + 2);
  if (box.area() == 0) return out;
  cv::Mat roi = out(box);
  cv::GaussianBlur(unit(m8(box)), roi, cv::Size(0, 0), sigma);
  return out;
}

// The lung's lateral reach from the midline at height y (apex narrow, widest at the base).
double lung_reach(const Anatomy& a, double y) {
  const double cp = a.dome_left + 0.05;
  const double t = std::clamp((y - a.lung_top) / (cp - a.lung_top), 0.0, 1.0);
  return 0.05 + (a.thorax - 0.06) * std::sin(std::min(1.0, 0.18 + 1.05 * t) * kPi / 2);
}

// Region shapes, 0..255 (anti-aliased): what the masks are made of.
struct Shapes {
  cv::Mat body, lungs, heart, mediastinum, breast, bubble, arm_gaps;
  cv::Mat spine, ribs_posterior, ribs_anterior, clavicles, scapulae, humeri;
};

Shapes draw_shapes(const Anatomy& a, double cx, double dy, int S) {
  Shapes s;
  for (cv::Mat* m : {&s.body, &s.lungs, &s.heart, &s.mediastinum, &s.breast, &s.bubble, &s.arm_gaps, &s.spine,
                     &s.ribs_posterior, &s.ribs_anterior, &s.clavicles, &s.scapulae, &s.humeri})
    *m = cv::Mat::zeros(S, S, CV_8U);
  const double top = a.lung_top + dy;
  // Body: neck, sloping shoulders out past the image edge, then the whole frame below.
  fill(s.body, {P(cx - 0.085, -0.02, S), P(cx + 0.085, -0.02, S), P(cx + 0.11, 0.03 + dy, S), P(cx + 0.30, 0.06 + dy, S),
                P(1.05, 0.10 + dy, S), P(1.05, 1.05, S), P(-0.05, 1.05, S), P(-0.05, 0.10 + dy, S),
                P(cx - 0.30, 0.06 + dy, S), P(cx - 0.11, 0.03 + dy, S)});
  for (int side : {-1, 1}) {
    const double dome = (side < 0 ? a.dome_right : a.dome_left) + dy, cp = dome + 0.05;
    // Lung: apex, lateral wall, costophrenic angle, diaphragm dome, medial border.
    std::vector<cv::Point> lung = {P(cx + side * 0.035, top + 0.05, S), P(cx + side * 0.075, top - 0.005, S)};
    for (int i = 0; i <= 24; ++i) {
      const double y = top + (cp - top) * i / 24.0;
      lung.push_back(P(cx + side * lung_reach(a, y - dy), y, S));
    }
    const double lat = lung_reach(a, cp - dy);
    for (int i = 1; i <= 24; ++i) {  // diaphragm, lateral to medial, highest at mid-lung
      const double u = i / 24.0;
      const double x = lat + (0.035 - lat) * u;
      lung.push_back(P(cx + side * x, dome + (cp - dome) * (1 - std::pow(std::sin(kPi * u * 0.9), 0.6)), S));
    }
    fill(s.lungs, lung);
    // Air between the arm and the chest wall.
    if (a.arm_gap > 0.002)
      polyline(s.arm_gaps, {P(cx + side * (a.thorax + 0.055), 0.32 + dy, S), P(cx + side * (a.thorax + 0.07), 0.6 + dy, S),
                            P(cx + side * (a.thorax + 0.065), 1.02, S)}, a.arm_gap, S);
    // Breast shadow over the lower lateral lung and below.
    cv::ellipse(s.breast, P(cx + side * 0.21, cp - 0.01, S), cv::Size(int(0.16 * S * 16), int(0.11 * S * 16)), 0, 0, 360,
                cv::Scalar(255), -1, cv::LINE_AA, 4);
    // Ribs: posterior arcs leave the spine, run out and curve down at the lateral wall;
    // the anterior part of the same rib runs back down and in, fainter, and ends at the
    // costal cartilage (invisible) a hand's width from the midline.
    const double step = (dome - 0.03 - top) / (a.ribs - 0.6);
    for (int k = 0; k < a.ribs; ++k) {
      const double y0 = top - 0.025 + k * step;
      const double reach = lung_reach(a, y0 + 0.04 - dy) + 0.02;
      const double drop = 0.05 + 0.004 * k;
      std::vector<cv::Point> post, ant;
      for (int i = 0; i <= 24; ++i) {
        const double t = i / 24.0;
        post.push_back(P(cx + side * (0.025 + (reach - 0.025) * std::sin(t * kPi / 2)),
                         y0 - 0.018 * std::sin(t * kPi) + drop * t * t, S));
      }
      polyline(s.ribs_posterior, post, a.rib_thick * (0.8 + 0.035 * k), S);
      const double xl = cx + side * reach, yl = y0 + drop;
      const double inner = std::max(0.10, reach * 0.45);
      for (int i = 0; i <= 20; ++i) {
        const double t = i / 20.0;
        ant.push_back(P(xl - side * (reach - inner) * std::sin(t * kPi / 2), yl + 0.10 * t - 0.015 * std::sin(t * kPi), S));
      }
      if (k >= 1 && yl + 0.1 < dome + 0.04) polyline(s.ribs_anterior, ant, a.rib_thick * 1.1, S);
    }
    // Clavicle: an S-curve from the manubrium rising to the acromion.
    std::vector<cv::Point> clavicle;
    for (int i = 0; i <= 24; ++i) {
      const double t = i / 24.0;
      clavicle.push_back(P(cx + side * (0.04 + 0.30 * t), top + 0.035 - 0.065 * t + 0.014 * std::sin(t * 2 * kPi), S));
    }
    polyline(s.clavicles, clavicle, 0.024, S);
    // Scapula: its body over the upper lateral lung field, the medial border slanting.
    const double sx = lung_reach(a, top + 0.1 - dy);
    cv::fillConvexPoly(s.scapulae, std::vector<cv::Point>{P(cx + side * (sx - 0.02), top - 0.02, S),
                                                          P(cx + side * (sx - 0.05), top + 0.08, S),
                                                          P(cx + side * (a.thorax - 0.005), top + 0.30, S),
                                                          P(cx + side * (a.thorax + 0.06), top + 0.02, S)},
                       cv::Scalar(255), cv::LINE_AA, 4);
    // Humeral head and the top of the shaft at the upper corners.
    const double hx = cx + side * (a.thorax + 0.085);
    cv::circle(s.humeri, P(hx, top + 0.01, S), int(0.06 * S * 16), cv::Scalar(255), -1, cv::LINE_AA, 4);
    cv::rectangle(s.humeri, P(hx - 0.035, top + 0.02, S), P(hx + 0.035, top + 0.32, S), cv::Scalar(255), -1, cv::LINE_AA, 4);
  }
  // Heart: a third right of the midline, two thirds left (image right), its long axis from
  // the patient's right shoulder to the left hip, resting on the diaphragm.
  const double heart_w = a.heart_ctr * 2 * a.thorax;
  cv::ellipse(s.heart, P(cx + 0.17 * heart_w, a.dome_left + dy - 0.30 * heart_w, S),
              cv::Size(int(0.53 * heart_w * S * 16), int(0.36 * heart_w * S * 16)), 28, 0, 360, cv::Scalar(255), -1,
              cv::LINE_AA, 4);
  // Upper mediastinum with the aortic knob on the image right.
  {
    const double m = a.mediastinum, knob_y = top + 0.17;
    std::vector<cv::Point> med = {P(cx - m, -0.02, S), P(cx + m, -0.02, S), P(cx + m, knob_y - 0.05, S),
                                  P(cx + m + 0.03, knob_y, S), P(cx + m + 0.01, knob_y + 0.05, S),
                                  P(cx + m + 0.02, a.dome_left + dy, S), P(cx - m - 0.01, a.dome_right + dy, S)};
    fill(s.mediastinum, med);
  }
  if (a.gastric_bubble)
    cv::ellipse(s.bubble, P(cx + 0.17, a.dome_left + dy + 0.06, S), cv::Size(int(0.055 * S * 16), int(0.035 * S * 16)), 0,
                0, 360, cv::Scalar(255), -1, cv::LINE_AA, 4);
  // Spine: vertebral bodies with discs between them.
  for (double y = -0.01, k = 0; y < 1.0; ++k) {
    const double h = 0.036 + 0.0012 * k, w = a.spine_w * (1 + 0.01 * k);
    cv::rectangle(s.spine, P(cx - w / 2, y, S), P(cx + w / 2, y + h, S), cv::Scalar(255), -1, cv::LINE_AA, 4);
    y += h + 0.009;
  }
  return s;
}

// Pulmonary vessels: a branching tree from each hilum, thinning and fading outwards.
void draw_vessels(cv::Mat& canvas, Rng& r, cv::Point2d at, double angle, double length, double width, double level,
                  int depth, int S) {
  const cv::Point2d to = at + cv::Point2d(std::cos(angle), std::sin(angle)) * length;
  cv::line(canvas, P(at.x, at.y, S), P(to.x, to.y, S), cv::Scalar(std::min(255.0, 255 * level)),
           std::max(1, static_cast<int>(std::lround(width * S))), cv::LINE_AA, 4);
  if (depth == 0) return;
  for (int side : {-1, 1})
    draw_vessels(canvas, r, to, angle + side * r.uniform(0.30, 0.55), length * r.uniform(0.62, 0.8), width * 0.72,
                 level * 0.82, depth - 1, S);
}

cv::Mat vessel_map(const Anatomy& a, double cx, double dy, Rng& r, int S) {
  cv::Mat v = cv::Mat::zeros(S, S, CV_8U);
  const double hilum_y = a.lung_top + dy + 0.36 * (a.dome_right - a.lung_top);
  for (int side : {-1, 1}) {
    const cv::Point2d hilum(cx + side * (a.mediastinum + 0.035), hilum_y);
    for (double base : {-1.25, -0.75, -0.2, 0.35, 0.9, 1.35}) {
      const double angle = side > 0 ? base + r.normal(0, 0.08) : kPi - base + r.normal(0, 0.08);
      draw_vessels(v, r, hilum, angle, r.uniform(0.07, 0.10), 0.011, 1.0, 5, S);
    }
  }
  return v;
}

// Noise with a power spectrum falling like a radiograph's: octaves of smooth noise whose
// amplitude halves, more or less, with each doubling of frequency. Zero mean, SD ~1.
// The octaves are summed at (at most) 256 px, two pixels per cell of the finest, and the
// sum is brought to S once.
cv::Mat fractal_noise(uint64_t seed, int S) {
  const int R = std::min(S, 256);
  cv::Mat sum = cv::Mat::zeros(R, R, CV_32F);
  cv::RNG g(seed);
  double amplitude = 1.0, total = 0;
  for (int cells = 4; cells <= std::min(S / 2, 128); cells *= 2) {
    cv::Mat coarse(cells, cells, CV_32F), up;
    g.fill(coarse, cv::RNG::NORMAL, 0.0, 1.0);
    cv::resize(coarse, up, cv::Size(R, R), 0, 0, cv::INTER_CUBIC);
    sum += up * amplitude;
    total += amplitude * amplitude;
    amplitude *= 0.76;
  }
  sum /= std::sqrt(total);
  if (R == S) return sum;
  cv::Mat out;
  cv::resize(sum, out, cv::Size(S, S), 0, 0, cv::INTER_CUBIC);
  return out;
}

// Per-pixel value of f(x) over the columns (x in image units), repeated down the rows.
cv::Mat column_profile(int S, const std::function<double(double)>& f) {
  cv::Mat row(1, S, CV_32F), out;
  for (int x = 0; x < S; ++x) row.at<float>(0, x) = static_cast<float>(f((x + 0.5) / S));
  cv::repeat(row, S, 1, out);
  return out;
}

// The attenuation map (line integral of mu) of one exam: soft tissue, lung air, vessels,
// parenchyma, and the bones with cortical rims and trabecular struts scaled by BMD.
cv::Mat attenuation_map(const PhantomSubject& subject, int exam, const PhantomOptions& o, const Anatomy& a,
                        const Shapes& sh, double cx, double dy) {
  const int S = o.size;
  // Bone density: cortical rims and trabecular texture, both scaled by BMD.
  const double z = subject.t_score + 1.5;  // 0 at the cohort mean
  const double e = o.effect;
  cv::Mat texture(S, S, CV_32F);
  {
    // cv::RNG (multiply-with-carry) is seeded explicitly: the same bytes on every platform.
    cv::Mat noise(S, S, CV_32F);
    cv::RNG tg(mix(subject.seed, 77 + exam));
    tg.fill(noise, cv::RNG::UNIFORM, 0.0f, 1.0f);
    cv::GaussianBlur(noise, texture, cv::Size(0, 0), std::max(1.0, S / 512.0 * 2.0));
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
  // Adds one bone to the attenuation map A, inside its bounding box only.
  auto add_bone = [&](cv::Mat& A, const cv::Mat& m8, double strength, double cortical, double trabecular,
                      const char* region) {
    const bool signal = o.signal_region.empty() || o.signal_region == region;
    const double er_ = signal ? e : 0.0;
    const int r = std::max(1, S / 170);
    const cv::Rect box = grown_box(m8, r + 1);
    if (box.area() == 0) return;
    cv::Mat m = unit(m8(box)), inner;
    cv::erode(m, inner, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(2 * r + 1, 2 * r + 1)));
    const cv::Mat rim = m - inner;
    const double c = cortical * (1 + 0.22 * strength * er_ * z);
    const double t = trabecular * (1 + 0.32 * strength * er_ * z);
    cv::Mat roi = A(box);
    roi += rim * c + inner.mul(0.45 * t + 0.55 * t * (signal ? struts : flat_struts)(box));
  };

  // Attenuation (line integral of mu): soft tissue thickest at the midline, lung air
  // where the heart and mediastinum do not stand in front of it, vessels in the lungs,
  // bones on top.
  const cv::Mat lung_air = blurred(sh.lungs, 0.012, S);
  const cv::Mat heart = blurred(sh.heart, 0.006, S), mediast = blurred(sh.mediastinum, 0.008, S);
  const cv::Mat body = blurred(sh.body, 0.01, S);
  cv::Mat thickness = column_profile(S, [&](double x) {
    const double u = (x - cx) / 0.55;
    return 0.25 + 0.75 * std::sqrt(std::max(0.0, 1 - u * u));
  });
  cv::Mat A = body.mul(thickness) * (1.42 * a.soft);
  A -= blurred(sh.arm_gaps, 0.003, S) * 1.2;
  // Lungs are deeper at the bases than at the apices: more air lower down.
  cv::Mat rows(S, 1, CV_32F);
  for (int y = 0; y < S; ++y)
    rows.at<float>(y) = static_cast<float>(0.8 + 0.35 * std::clamp(((y + 0.5) / S - a.lung_top - dy) / (a.dome_right - a.lung_top), 0.0, 1.0));
  cv::Mat air = lung_air.mul(1 - heart * 0.85).mul(1 - mediast * 0.9).mul(cv::repeat(rows, 1, S));
  A -= air * 1.05;
  A += heart * 0.10 + mediast * 0.06;
  A += blurred(sh.breast, 0.02, S) * (0.22 * a.breast);
  A -= blurred(sh.bubble, 0.004, S) * 0.7;
  {
    Rng vr(mix(subject.seed, 31));  // the patient's vessel tree, fixed across exams
    A += blurred(vessel_map(a, cx, dy, vr, S), 0.0015, S).mul(lung_air) * 0.25;
  }
  {
    const cv::Mat parenchyma = fractal_noise(mix(subject.seed, 600 + exam), S);
    A += parenchyma * 0.12;
  }
  add_bone(A, sh.spine, 1.0, 0.62, 0.42, "spine");
  add_bone(A, sh.ribs_posterior, 1.0, 0.36, 0.20, "ribs");
  add_bone(A, sh.ribs_anterior, 1.0, 0.14, 0.06, "ribs");
  add_bone(A, sh.clavicles, 0.5, 0.45, 0.22, "clavicles");
  add_bone(A, sh.scapulae, 0.5, 0.16, 0.08, "scapulae");
  add_bone(A, sh.humeri, 0.5, 0.45, 0.25, "humeri");
  cv::max(A, 0.0, A);
  return A;
}

// Exposure: the film (1 - transmitted fraction) of attenuation A under an anode heel and a
// little vignetting.
cv::Mat exposed_film(const cv::Mat& A, Rng& er, int S) {
  // Exposure: transmitted fraction exp(-A) under an anode heel (one side brighter) and a
  // little vignetting; the film shows 1 - transmitted, so dense is bright and a bone over
  // the heart shows less than the same bone over the lung.
  const double heel = er.uniform(-0.12, 0.12);
  cv::Mat transmitted;
  cv::exp(-A, transmitted);
  {
    // (1 + 2 heel v)(1 + (u^2 + v^2) / 4) over centred coordinates u (columns), v (rows).
    cv::Mat u2(1, S, CV_32F), v2(S, 1, CV_32F), heel_rows(S, 1, CV_32F);
    for (int i = 0; i < S; ++i) {
      const double c = (i + 0.5) / S - 0.5;
      u2.at<float>(i) = static_cast<float>(0.25 * c * c);
      v2.at<float>(i) = static_cast<float>(0.25 * c * c);
      heel_rows.at<float>(i) = static_cast<float>(1 + heel * c * 2);
    }
    const cv::Mat vignette = 1 + cv::repeat(u2, S, 1) + cv::repeat(v2, 1, S);
    transmitted = transmitted.mul(vignette).mul(cv::repeat(heel_rows, 1, S));
  }
  cv::Mat film = 1.0 - transmitted;
  return film;
}

// The region mask of the exam: each region rotated with the image (rotation M, nearest
// neighbour), bits combined.
void fill_region_mask(PhantomImage& img, const Shapes& sh, const cv::Mat& ribs, const cv::Mat& marker_region,
                      const cv::Mat& cue_region, const cv::Mat& M, int S) {
  // Masks: each region rotated with the image (nearest neighbour), bits combined. The
  // visible lung field excludes the heart and mediastinum in front of it (as human lung
  // masks do); a marker overwrites whatever bone was under it.
  cv::Mat visible_lungs = sh.lungs.clone();
  visible_lungs.setTo(0, sh.heart >= 128);
  visible_lungs.setTo(0, sh.mediastinum >= 128);
  img.mask.assign(S * S, 0);
  const std::pair<const cv::Mat*, uint8_t> regions[] = {{&sh.spine, kSpine},        {&ribs, kRibs},
                                                        {&sh.clavicles, kClavicles}, {&sh.scapulae, kScapulae},
                                                        {&sh.humeri, kHumeri},       {&visible_lungs, kLungs},
                                                        {&marker_region, kMarker},   {&cue_region, kRibCue}};
  for (const auto& [m, bit] : regions) {
    if (cv::countNonZero(*m) == 0) continue;  // a shortcut region of another mode
    cv::Mat r;
    cv::warpAffine(*m, r, M, m->size(), cv::INTER_NEAREST, cv::BORDER_CONSTANT, cv::Scalar(0));
    const uint8_t* p = r.ptr<uint8_t>();
    for (int i = 0; i < S * S; ++i)
      if (p[i] >= 128) img.mask[i] |= bit;
  }
  for (auto& m : img.mask)
    if (m & kMarker) m = kMarker;
}

}  // namespace

PhantomImage render_phantom(const PhantomSubject& subject, int exam, const PhantomOptions& o) {
  const int S = o.size;
  if (S < 64) throw InputError("--size must be at least 64");
  Rng pr(subject.seed);
  const Anatomy a = patient_anatomy(pr);
  Rng er(mix(subject.seed, 1000 + static_cast<uint64_t>(exam)));
  const double cx = a.cx + er.normal(0, 0.006), dy = er.normal(0, 0.006);
  const Shapes sh = draw_shapes(a, cx, dy, S);
  cv::Mat ribs;
  cv::max(sh.ribs_posterior, sh.ribs_anterior, ribs);

  cv::Mat A = attenuation_map(subject, exam, o, a, sh, cx, dy);

  // The shortcut's class, and the in-bone cue (attenuation inside the ribs).
  cv::Mat marker_region = cv::Mat::zeros(S, S, CV_8U), cue_region = cv::Mat::zeros(S, S, CV_8U);
  // The class a shortcut encodes: the true one, or with --shortcut-strength < 1 sometimes a
  // random one (its own stream: the exam's is left as it was).
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
    // A patch-sized square of the image-left posterior ribs, denser by class, with no
    // density change; its own bit (128, "rib_cue", a bone region) lets explain name it.
    cv::Mat square = cv::Mat::zeros(S, S, CV_8U);
    cv::rectangle(square, P(0.24, 0.38, S), P(0.36, 0.50, S), cv::Scalar(255), -1, cv::LINE_8, 4);
    cv::bitwise_and(square, ribs, cue_region);
    cv::threshold(cue_region, cue_region, 127, 255, cv::THRESH_BINARY);
    A += unit(cue_region) * (0.14 * shortcut_label());
  }

  cv::Mat film = exposed_film(A, er, S);
  if (o.shortcut == "marker") {
    // A burned-in marker outside all bones whose brightness follows the class, about one ViT
    // patch at the demo sizes, like a lead side marker: written over the film, so the
    // bone masks under it are cleared below. Its mask bit (64) makes it a control region.
    const double level = 0.05 + 0.4 * shortcut_label() + er.normal(0, 0.03);
    cv::rectangle(film, P(0.03, 0.78, S), P(0.19, 0.94, S), cv::Scalar(level), -1, cv::LINE_AA, 4);
    cv::rectangle(marker_region, P(0.03, 0.78, S), P(0.19, 0.94, S), cv::Scalar(255), -1, cv::LINE_8, 4);
  }

  // Exam: small rotation, blur, contrast curve, exposure, noise.
  const double rot = a.rot_deg + er.normal(0, 1.0);
  const cv::Mat M = cv::getRotationMatrix2D(cv::Point2f(S / 2.0f, S / 2.0f), rot, 1.0);
  cv::Mat Ar;
  cv::warpAffine(film, Ar, M, film.size(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  cv::GaussianBlur(Ar, Ar, cv::Size(0, 0), er.uniform(0.4, 0.8) * S / 512.0);
  const double gamma = er.uniform(0.9, 1.12), gain = er.uniform(0.95, 1.05);
  const double noise_sd = er.uniform(0.009, 0.015);
  cv::Mat out, noise(S, S, CV_32F);
  cv::max(Ar, 0.0, Ar);
  cv::pow(Ar, gamma, out);
  cv::RNG ng(mix(subject.seed, 500 + exam));
  ng.fill(noise, cv::RNG::NORMAL, 0.0, noise_sd);
  out = out * gain + noise;
  cv::min(cv::max(out, 0.0), 1.0, out);

  PhantomImage img;
  img.width = img.height = S;
  img.pixels.assign(out.ptr<float>(), out.ptr<float>() + S * S);
  fill_region_mask(img, sh, ribs, marker_region, cue_region, M, S);
  return img;
}
#else
PhantomImage render_phantom(const PhantomSubject&, int, const PhantomOptions&) {
  throw InputError("synth: this osteofm was built without image I/O (OSTEOFM_WITH_IMAGE_IO=OFF)");
}
#endif

}  // namespace osteofm
