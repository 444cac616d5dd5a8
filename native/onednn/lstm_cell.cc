// lstm_cell.h's arithmetic, in loops that the compiler vectorizes. This file alone is compiled
// with -ffast-math (CMakeLists.txt): under it glibc declares its vector math (libmvec), so that
// the loops call 8-wide expf/tanhf on AVX2 (4-wide on the SSE2 baseline); scalar tanhf made the
// forward step's cell 17 times slower (520 against 31 us for 32 x 1024 values, AVX2). The loops
// have no reductions, so fast-math's reassociation cannot reorder a sum; NaN still propagates
// through exp, tanh and arithmetic (tests/nn/test_lstm.py checks that a NaN input comes out).
// Each function is built for AVX2 and for the baseline, chosen when the library loads.

#include "lstm_cell.h"

#include <cmath>

namespace jaxgen_onednn {
namespace {

inline float Sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

}  // namespace

__attribute__((target_clones("avx2", "default"))) void LstmCellForward(
    int64_t rows, int64_t hidden, float* __restrict gates, const float* __restrict c_prev,
    float* __restrict c, float* __restrict tanh_c, float* __restrict h, int64_t h_stride) {
  const int64_t g4 = 4 * hidden;
  for (int64_t r = 0; r < rows; ++r) {
    float* z = gates + r * g4;
    for (int64_t j = 0; j < 2 * hidden; ++j) z[j] = Sigmoid(z[j]);           // i, f
    for (int64_t j = 2 * hidden; j < 3 * hidden; ++j) z[j] = std::tanh(z[j]);  // g
    for (int64_t j = 3 * hidden; j < g4; ++j) z[j] = Sigmoid(z[j]);          // o
    const float* i = z;
    const float* f = z + hidden;
    const float* g = z + 2 * hidden;
    const float* o = z + 3 * hidden;
    const float* cp = c_prev + r * hidden;
    float* cr = c + r * hidden;
    float* tr = tanh_c + r * hidden;
    float* hr = h + r * h_stride;
    for (int64_t j = 0; j < hidden; ++j) {
      cr[j] = f[j] * cp[j] + i[j] * g[j];
      tr[j] = std::tanh(cr[j]);
      hr[j] = o[j] * tr[j];
    }
  }
}

__attribute__((target_clones("avx2", "default"))) void LstmCellBackward(
    int64_t rows, int64_t hidden, const float* __restrict gates, const float* __restrict tanh_c,
    const float* __restrict c_prev, const float* __restrict dh_out, int64_t dh_out_stride,
    const float* __restrict dh_next, float* __restrict dc, float* __restrict dz) {
  const int64_t g4 = 4 * hidden;
  for (int64_t r = 0; r < rows; ++r) {
    const float* i = gates + r * g4;
    const float* f = i + hidden;
    const float* g = i + 2 * hidden;
    const float* o = i + 3 * hidden;
    const float* tr = tanh_c + r * hidden;
    const float* cp = c_prev + r * hidden;
    const float* dho = dh_out + r * dh_out_stride;
    const float* dhn = dh_next + r * hidden;
    float* dcr = dc + r * hidden;
    float* di = dz + r * g4;
    float* df = di + hidden;
    float* dg = di + 2 * hidden;
    float* d_o = di + 3 * hidden;
    for (int64_t j = 0; j < hidden; ++j) {
      const float dh = dho[j] + dhn[j];
      const float t = tr[j];
      const float dcj = dcr[j] + dh * o[j] * (1.0f - t * t);
      di[j] = dcj * g[j] * i[j] * (1.0f - i[j]);
      df[j] = dcj * cp[j] * f[j] * (1.0f - f[j]);
      dg[j] = dcj * i[j] * (1.0f - g[j] * g[j]);
      d_o[j] = dh * t * o[j] * (1.0f - o[j]);
      dcr[j] = dcj * f[j];
    }
  }
}

}  // namespace jaxgen_onednn
