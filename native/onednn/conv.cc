// oneDNN 2-D convolutions (f32, NHWC activations, HWIO weights) as XLA:CPU FFI handlers.
//
// Three handlers, all with the same geometry attributes (strides, padding_low, padding_high,
// rhs_dilation; two values each, height then width):
//
//   jaxgen_onednn_conv_fwd          x (N,H,W,C), w (KH,KW,C,O)   -> y  (N,OH,OW,O)
//   jaxgen_onednn_conv_bwd_data     dy (N,OH,OW,O), w            -> dx (N,H,W,C)
//   jaxgen_onednn_conv_bwd_weights  x, dy                        -> dw (KH,KW,C,O)
//
// Threads: oneDNN's own runtime (GNU OpenMP in the wheel `make native` installs) runs each
// primitive on all cores; the XLA thread that executes the custom call is the team's master.
//
// The shapes of the results come from XLA (the caller states them), so every handler knows the
// full geometry from its buffers; oneDNN checks that it is consistent.
//
// Per geometry, the primitive (and the reorders it needs) is built once and cached (common.h's
// PlanCache). Primitives run one at a time (common.h's Exclusive), on one stream with one set of
// scratch buffers that grow to the largest convolution seen.

#include <atomic>
#include <cstring>
#include <memory>

#include "common.h"

namespace {

using namespace jaxgen_onednn;  // NOLINT: this file's own library
using dnnl::memory;
using tag = memory::format_tag;

enum class Kind : int { kForward = 0, kBackwardData = 1, kBackwardWeights = 2 };

// Which tensors a primitive may keep in oneDNN's preferred (blocked) layout, format_tag::any,
// with a reorder to or from the caller's buffer on every call; the others it reads and writes in
// place as NHWC/HWIO. Bit 0: the activations, bit 1: the weights. The default, kAnyWeights, was
// measured best overall (benchmarks/onednn_conv.py and ONEDNN_VERBOSE; oneDNN 3.2, AVX-512,
// batch 256): with plain HWIO weights oneDNN runs both backward passes as im2col + GEMM, 1.5-2x
// slower on layers with many channels than its direct kernels on blocked weights (and at times
// 10-100x slower under load), while blocking the activations as well gains nothing measurable
// on those layers once their reorders are paid, and loses on layers with few channels (padded
// to the 16-channel block). The kernel's reorder is cheap. A process-wide switch, not an FFI
// attribute, so that a benchmark can compare the choices in one process without recompiling.
enum Layout : int { kPlain = 0, kAnyActivations = 1, kAnyWeights = 2, kAny = 3 };
std::atomic<int> g_layout{kAnyWeights};

// Backward-data into at most this many channels (an image's gradient, a transposed convolution
// to an image) runs on planar layouts, whatever the Layout: NCHW activations (dy reordered from
// NHWC; a 1-channel dx is the same bytes in both) and OIHW weights, on which oneDNN takes its
// im2col-GEMM implementation, as PyTorch's NCHW tensors do. On its blocked layouts oneDNN pads
// the few channels to its vector block and ran up to 2.2x slower than XLA's convolution; the
// planar GEMM runs 1.3-3.6x faster than XLA's (benchmarks/input_gradients.py, AVX2: 64 -> 1
// channel, 23x23 at 128x128, 19.1 ms against XLA's 68.2; with this route switched off, the
// blocked kernels took 65.5 ms against XLA's 44.6 on the same layer in a scratch run). From 8
// channels up the blocked kernels beat the GEMM (jaxgen/nn/onednn.py routes 5 to 15 channels to
// XLA). Exported so that Python's routing reads the same number.
constexpr int64_t kPlanarMaxChannels = 4;

// Everything a primitive depends on. "src" and "dst" are the convolution's input and output in
// forward terms, whichever of them a handler reads or writes.
struct Key {
  int kind, layout;
  int64_t n, src_c, src_h, src_w, dst_c, dst_h, dst_w, kh, kw;
  int64_t sh, sw, dh, dw, pl_h, pl_w, pr_h, pr_w;
};

// A cached primitive with its two inputs and one output.
struct Plan {
  dnnl::primitive prim;
  Tensor in0, in1, out;
  memory::desc scratchpad;
};

// Activations are {N, C, H, W} logically (oneDNN's order) in the physical `layout` (the
// caller's is nhwc).
memory::desc Activation(int64_t n, int64_t c, int64_t h, int64_t w, tag layout) {
  return memory::desc({n, c, h, w}, memory::data_type::f32, layout);
}

// Weights are {O, I, KH, KW} logically; the caller's physical order is hwio (KH, KW, I, O), a
// flax kernel's.
memory::desc Weights(const Key& k, tag layout) {
  return memory::desc({k.dst_c, k.src_c, k.kh, k.kw}, memory::data_type::f32, layout);
}

std::shared_ptr<const Plan> BuildPlan(const Key& k) {
  const bool planar = static_cast<Kind>(k.kind) == Kind::kBackwardData &&
                      k.src_c <= kPlanarMaxChannels;
  const tag act = planar ? tag::nchw : (k.layout & kAnyActivations) ? tag::any : tag::nhwc;
  const tag wei_layout = planar ? tag::oihw : (k.layout & kAnyWeights) ? tag::any : tag::hwio;
  dnnl::engine& eng = Engine();
  const memory::dims strides{k.sh, k.sw}, dilates{k.dh, k.dw};
  const memory::dims pad_l{k.pl_h, k.pl_w}, pad_r{k.pr_h, k.pr_w};
  const auto src = Activation(k.n, k.src_c, k.src_h, k.src_w, act);
  const auto dst = Activation(k.n, k.dst_c, k.dst_h, k.dst_w, act);
  const auto wei = Weights(k, wei_layout);
  const auto src_user = Activation(k.n, k.src_c, k.src_h, k.src_w, tag::nhwc);
  const auto dst_user = Activation(k.n, k.dst_c, k.dst_h, k.dst_w, tag::nhwc);
  const auto wei_user = Weights(k, tag::hwio);

  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  const auto algo = dnnl::algorithm::convolution_direct;

  auto plan = std::make_shared<Plan>();
  switch (static_cast<Kind>(k.kind)) {
    case Kind::kForward: {
      dnnl::convolution_forward::primitive_desc pd(eng, dnnl::prop_kind::forward_inference, algo,
                                                   src, wei, dst, strides, dilates, pad_l, pad_r,
                                                   attr);
      plan->prim = dnnl::convolution_forward(pd);
      plan->in0 = MakeTensor(DNNL_ARG_SRC, src_user, pd.src_desc(), true);
      plan->in1 = MakeTensor(DNNL_ARG_WEIGHTS, wei_user, pd.weights_desc(), true);
      plan->out = MakeTensor(DNNL_ARG_DST, dst_user, pd.dst_desc(), false);
      plan->scratchpad = pd.scratchpad_desc();
      break;
    }
    case Kind::kBackwardData:
    case Kind::kBackwardWeights: {
      // The backward primitives want the forward one they differentiate as a hint (it fixes
      // the implementation family and, with format_tag::any, the layouts).
      dnnl::convolution_forward::primitive_desc hint(eng, dnnl::prop_kind::forward_training,
                                                     algo, src, wei, dst, strides, dilates, pad_l,
                                                     pad_r);
      if (static_cast<Kind>(k.kind) == Kind::kBackwardData) {
        dnnl::convolution_backward_data::primitive_desc pd(eng, algo, src, wei, dst, strides,
                                                           dilates, pad_l, pad_r, hint, attr);
        plan->prim = dnnl::convolution_backward_data(pd);
        plan->in0 = MakeTensor(DNNL_ARG_DIFF_DST, dst_user, pd.diff_dst_desc(), true);
        plan->in1 = MakeTensor(DNNL_ARG_WEIGHTS, wei_user, pd.weights_desc(), true);
        plan->out = MakeTensor(DNNL_ARG_DIFF_SRC, src_user, pd.diff_src_desc(), false);
        plan->scratchpad = pd.scratchpad_desc();
      } else {
        dnnl::convolution_backward_weights::primitive_desc pd(eng, algo, src, wei, dst, strides,
                                                              dilates, pad_l, pad_r, hint, attr);
        plan->prim = dnnl::convolution_backward_weights(pd);
        plan->in0 = MakeTensor(DNNL_ARG_SRC, src_user, pd.src_desc(), true);
        plan->in1 = MakeTensor(DNNL_ARG_DIFF_DST, dst_user, pd.diff_dst_desc(), true);
        plan->out = MakeTensor(DNNL_ARG_DIFF_WEIGHTS, wei_user, pd.diff_weights_desc(), false);
        plan->scratchpad = pd.scratchpad_desc();
      }
      break;
    }
  }
  return plan;
}

PlanCache<Key, Plan>* g_plans = new PlanCache<Key, Plan>();  // never freed

void Execute(const Plan& plan, const void* in0, const void* in1, void* out) {
  Exclusive ex;
  memory m0 = PrepareInput(ex, plan.in0, in0, 0);
  memory m1 = PrepareInput(ex, plan.in1, in1, 1);
  memory m_out = PrepareOutput(ex, plan.out, out, 2);
  memory scratch(plan.scratchpad, Engine(), ex.buffers().Get(3, plan.scratchpad.get_size()));
  plan.prim.execute(ex.stream(), {{plan.in0.arg, m0},
                                  {plan.in1.arg, m1},
                                  {plan.out.arg, m_out},
                                  {DNNL_ARG_SCRATCHPAD, scratch}});
  FinishOutput(ex, plan.out, m_out, out);
  ex.stream().wait();
}

using Buffer4 = ffi::BufferR4<ffi::F32>;
using Result4 = ffi::ResultBufferR4<ffi::F32>;
using Ints = ffi::Span<const int64_t>;

// Builds the key from the activations (src, dst: NHWC dims), the weights (HWIO dims) and the
// attributes, checking what oneDNN would not report clearly.
ffi::Error MakeKey(Kind kind, Buffer4::Dimensions src, Buffer4::Dimensions dst,
                   Buffer4::Dimensions wei, Ints strides, Ints pad_lo, Ints pad_hi, Ints dilation,
                   Key* key) {
  if (strides.size() != 2 || pad_lo.size() != 2 || pad_hi.size() != 2 || dilation.size() != 2) {
    return ffi::Error::InvalidArgument("strides, padding_low/high, rhs_dilation need 2 values");
  }
  if (src[0] != dst[0] || wei[2] != src[3] || wei[3] != dst[3]) {
    return ffi::Error::InvalidArgument(
        "shapes disagree: need src (N,H,W,C), dst (N,OH,OW,O), weights (KH,KW,C,O)");
  }
  for (int i = 0; i < 2; ++i) {
    if (strides[i] < 1 || dilation[i] < 1 || pad_lo[i] < 0 || pad_hi[i] < 0) {
      return ffi::Error::InvalidArgument(
          "need strides >= 1, rhs_dilation >= 1 and padding >= 0");
    }
  }
  std::memset(key, 0, sizeof(Key));  // no padding bytes, but keep the bytewise hash honest
  key->kind = static_cast<int>(kind);
  key->layout = g_layout.load(std::memory_order_relaxed);
  key->n = src[0];
  key->src_h = src[1];
  key->src_w = src[2];
  key->src_c = src[3];
  key->dst_h = dst[1];
  key->dst_w = dst[2];
  key->dst_c = dst[3];
  key->kh = wei[0];
  key->kw = wei[1];
  key->sh = strides[0];
  key->sw = strides[1];
  key->dh = dilation[0] - 1;  // oneDNN counts the zeros between taps: 0 is no dilation
  key->dw = dilation[1] - 1;
  key->pl_h = pad_lo[0];
  key->pl_w = pad_lo[1];
  key->pr_h = pad_hi[0];
  key->pr_w = pad_hi[1];
  return ffi::Error::Success();
}

ffi::Error Run(Kind kind, Buffer4::Dimensions src, Buffer4::Dimensions dst,
               Buffer4::Dimensions wei, Ints strides, Ints pad_lo, Ints pad_hi, Ints dilation,
               const void* in0, const void* in1, void* out) {
  Key key;
  if (ffi::Error err = MakeKey(kind, src, dst, wei, strides, pad_lo, pad_hi, dilation, &key);
      !err.success()) {
    return err;
  }
  return Guarded("convolution", [&] { Execute(*g_plans->Get(key, BuildPlan), in0, in1, out); });
}

ffi::Error ConvForward(Buffer4 x, Buffer4 w, Result4 y, Ints strides, Ints pad_lo, Ints pad_hi,
                       Ints dilation) {
  return Run(Kind::kForward, x.dimensions(), y->dimensions(), w.dimensions(), strides, pad_lo,
             pad_hi, dilation, x.untyped_data(), w.untyped_data(), y->untyped_data());
}

ffi::Error ConvBackwardData(Buffer4 dy, Buffer4 w, Result4 dx, Ints strides, Ints pad_lo,
                            Ints pad_hi, Ints dilation) {
  return Run(Kind::kBackwardData, dx->dimensions(), dy.dimensions(), w.dimensions(), strides,
             pad_lo, pad_hi, dilation, dy.untyped_data(), w.untyped_data(), dx->untyped_data());
}

ffi::Error ConvBackwardWeights(Buffer4 x, Buffer4 dy, Result4 dw, Ints strides, Ints pad_lo,
                               Ints pad_hi, Ints dilation) {
  return Run(Kind::kBackwardWeights, x.dimensions(), dy.dimensions(), dw->dimensions(), strides,
             pad_lo, pad_hi, dilation, x.untyped_data(), dy.untyped_data(), dw->untyped_data());
}

}  // namespace

JAXGEN_EXPORT XLA_FFI_Error* jaxgen_onednn_conv_fwd(XLA_FFI_CallFrame*);
JAXGEN_EXPORT XLA_FFI_Error* jaxgen_onednn_conv_bwd_data(XLA_FFI_CallFrame*);
JAXGEN_EXPORT XLA_FFI_Error* jaxgen_onednn_conv_bwd_weights(XLA_FFI_CallFrame*);

// Two inputs, one result and the four geometry attributes, in this order for every handler.
#define JAXGEN_CONV_BINDING                      \
  ffi::Ffi::Bind()                               \
      .Arg<Buffer4>()                            \
      .Arg<Buffer4>()                            \
      .Ret<Buffer4>()                            \
      .Attr<Ints>("strides")                     \
      .Attr<Ints>("padding_low")                 \
      .Attr<Ints>("padding_high")                \
      .Attr<Ints>("rhs_dilation")

XLA_FFI_DEFINE_HANDLER_SYMBOL(jaxgen_onednn_conv_fwd, ConvForward, JAXGEN_CONV_BINDING);
XLA_FFI_DEFINE_HANDLER_SYMBOL(jaxgen_onednn_conv_bwd_data, ConvBackwardData,
                              JAXGEN_CONV_BINDING);
XLA_FFI_DEFINE_HANDLER_SYMBOL(jaxgen_onednn_conv_bwd_weights, ConvBackwardWeights,
                              JAXGEN_CONV_BINDING);

// Selects the layouts of the calls from now on (a Layout). Plans are cached per layout, so
// switching back and forth costs nothing after the first calls.
JAXGEN_EXPORT void jaxgen_onednn_set_layout(int layout) { g_layout.store(layout & kAny); }

JAXGEN_EXPORT int jaxgen_onednn_get_layout() { return g_layout.load(); }

JAXGEN_EXPORT int64_t jaxgen_onednn_planar_max_channels() { return kPlanarMaxChannels; }

// Number of cached plans (the tests check that repeated calls reuse them).
JAXGEN_EXPORT int64_t jaxgen_onednn_num_plans() { return g_plans->size(); }
