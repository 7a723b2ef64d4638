// Least-squares scale fits shared by the reference quantizers (declared in quant_blocks.h).
// Written from the math: for fixed integer codes q the best scale of x ~ s*q is
//   s = sum(w x q) / sum(w q^2), which lowers the squared error by sum(w x q)^2 / sum(w q^2),
// and for fixed q the best affine pair of x ~ s*q - m is the 2x2 weighted normal equations.
#include <algorithm>
#include <cmath>

#include "format/quant_blocks.h"

namespace frugal::quant {
namespace {

float weight(const float* w, int i) {
  return w ? w[i] : 1.0f;
}

// Weighted squared error of x ~ s*q - m with q = clamp(round((x + m) / s), 0, qmax).
double affine_error(const float* x, const float* w, int n, int qmax, float s, float m) {
  const float is = s != 0.0f ? 1.0f / s : 0.0f;
  double err = 0;
  for (int i = 0; i < n; ++i) {
    const float q = static_cast<float>(round_clamp((x[i] + m) * is, 0, qmax));
    const double diff = static_cast<double>(s * q - m) - x[i];
    err += weight(w, i) * diff * diff;
  }
  return err;
}

// For the codes of (s, m), solves min sum w (a q + b - x)^2 for (a, b) and returns s = a, m = -b,
// keeping m >= 0 (b <= 0) as the formats require. Returns false when the codes are degenerate.
bool refit_affine(const float* x, const float* w, int n, int qmax, AffineFit* fit) {
  const float is = fit->scale != 0.0f ? 1.0f / fit->scale : 0.0f;
  double sw = 0, sq = 0, sqq = 0, sx = 0, sqx = 0;
  for (int i = 0; i < n; ++i) {
    const double wi = weight(w, i);
    const double q = round_clamp((x[i] + fit->min) * is, 0, qmax);
    sw += wi;
    sq += wi * q;
    sqq += wi * q * q;
    sx += wi * x[i];
    sqx += wi * q * x[i];
  }
  const double det = sw * sqq - sq * sq;
  if (det <= 0 || sqq <= 0) return false;
  double a = (sw * sqx - sq * sx) / det;
  double b = (sqq * sx - sq * sqx) / det;
  if (b > 0) {  // the offset may only lower values: clamp m to 0 and refit the scale alone
    b = 0;
    a = sqx / sqq;
  }
  if (a <= 0) return false;
  fit->scale = static_cast<float>(a);
  fit->min = static_cast<float>(-b);
  return true;
}

}  // namespace

int round_clamp(float v, int lo, int hi) {
  if (!(v > static_cast<float>(lo))) return lo;  // also maps NaN to lo
  if (v >= static_cast<float>(hi)) return hi;
  return static_cast<int>(std::nearbyint(v));
}

int nearest_iq4nl(float v) {
  int best = 0;
  float best_dist = std::fabs(v - kIq4nlValues[0]);
  for (int k = 1; k < 16; ++k) {
    const float dist = std::fabs(v - kIq4nlValues[k]);
    if (dist < best_dist) {
      best = k;
      best_dist = dist;
    }
  }
  return best;
}

float fit_symmetric_scale(const float* x, const float* w, int n, int qmin, int qmax) {
  const float amax = signed_absmax(x, n);
  if (amax == 0.0f) return 0.0f;
  // Candidates: the extreme maps near qmin (the end with the larger magnitude), +-0.9 in 0.1 steps.
  const float nmax = static_cast<float>(-qmin);
  float best_scale = 0.0f;
  double best_gain = -1.0;
  for (int k = -9; k <= 9; ++k) {
    const float iscale = -(nmax + 0.1f * static_cast<float>(k)) / amax;
    double sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; ++i) {
      const double q = round_clamp(x[i] * iscale, qmin, qmax);
      sumlx += weight(w, i) * x[i] * q;
      suml2 += weight(w, i) * q * q;
    }
    if (suml2 <= 0) continue;
    const double gain = sumlx * sumlx / suml2;  // error reduction of the least-squares scale
    if (gain > best_gain) {
      best_gain = gain;
      best_scale = static_cast<float>(sumlx / suml2);
    }
  }
  return best_scale;
}

AffineFit fit_affine(const float* x, const float* w, int n, int qmax) {
  float lo = std::min(0.0f, *std::min_element(x, x + n));
  const float hi = *std::max_element(x, x + n);
  if (hi <= lo) return {0.0f, -lo};  // constant block: y = -m reproduces it exactly
  AffineFit cur{(hi - lo) / static_cast<float>(qmax), -lo};
  AffineFit best = cur;
  double best_err = affine_error(x, w, n, qmax, cur.scale, cur.min);
  for (int iter = 0; iter < 6; ++iter) {
    if (!refit_affine(x, w, n, qmax, &cur)) break;
    const double err = affine_error(x, w, n, qmax, cur.scale, cur.min);
    if (err >= best_err) break;
    best_err = err;
    best = cur;
  }
  return best;
}

}  // namespace frugal::quant
