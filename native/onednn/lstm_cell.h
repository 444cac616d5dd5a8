// The LSTM cell's elementwise arithmetic for one step of rows (lstm_cell.cc), between the
// products that lstm.cc runs on oneDNN. Rows are independent: a caller may split them among
// threads. Gates are laid out i, f, g, o (each H wide) in rows of G = 4H.
#pragma once

#include <cstdint>

// Hidden explicitly: GCC exports a function with target_clones (lstm_cell.cc) despite
// -fvisibility=hidden (its `.resolver` helpers stay visible either way; nothing calls them by name).
#define JAXGEN_HIDDEN __attribute__((visibility("hidden")))

namespace jaxgen_onednn {

// For each row r < rows: `gates` holds the pre-activations z = x W_i + h W_h + b and becomes
// the activations (sigmoid, sigmoid, tanh, sigmoid)(z) in place; c = f * c_prev + i * g,
// tanh_c = tanh(c) (kept for the backward pass), h = o * tanh_c. Row r of h starts at
// h + r * h_stride (a batch-major sequence's step); the other arrays' rows are contiguous.
JAXGEN_HIDDEN void LstmCellForward(int64_t rows, int64_t hidden, float* gates,
                                   const float* c_prev, float* c, float* tanh_c, float* h,
                                   int64_t h_stride);

// For each row: dh = dh_out + dh_next (row r of dh_out at dh_out + r * dh_out_stride); dc
// (in: from the step after, out: into c_prev) gets dh * o * (1 - tanh(c)^2), then
// dz = (dc g i(1-i), dc c_prev f(1-f), dc i (1-g^2), dh tanh(c) o(1-o)) and dc *= f, with
// tanh(c) the forward pass's `tanh_c`. The caller turns dz into the step before's dh_next (the
// H columns of dz W^T after the E of dx).
JAXGEN_HIDDEN void LstmCellBackward(int64_t rows, int64_t hidden, const float* gates,
                                    const float* tanh_c, const float* c_prev,
                                    const float* dh_out, int64_t dh_out_stride,
                                    const float* dh_next, float* dc, float* dz);

}  // namespace jaxgen_onednn
