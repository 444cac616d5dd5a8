// An LSTM layer over a whole sequence as two XLA:CPU FFI handlers, forward and backward, on the
// fused weights of jaxgen/nn/lstm.py: W = [W_i; W_h] (K = E + H rows, G = 4H columns, gates
// i, f, g, o) and b (G). Every step's product is one oneDNN inner product (its brgemm kernels,
// W reordered once a call into the layout they prefer) of the row [x_t, h_{t-1}] with W, plus b;
// the cell's arithmetic follows in one pass over the rows (lstm_cell.cc). Backward, each step's
// gate gradients dz go through one inner product with W^T, which gives dx_t and the step
// before's dh at once, and are added up into db. What is left to XLA is one matmul over all
// T * B rows, the weight gradients dW = xh^T dz: XLA's (YNNPACK's) GEMM took 12 ms for it where
// oneDNN 3.2's took 20 (sgemm, two threads by columns) to 26 (the inner product's
// backward-weights primitive), and the recurrence hands dz over anyway.
//
// Tensors, with any leading dimensions (vmap's, `vmap_method="broadcast_all"`) looping over
// independent problems:
//
//   jaxgen_onednn_lstm_fwd  x (B,T,E), W_i (E,G), W_h (H,G), b (G), c0 (B,H), h0 (B,H)
//                             -> h_all (B,T,H), c_all (T,B,H), tanh_c (T,B,H), gates (T,B,G),
//                                xh (T,B,K)
//   jaxgen_onednn_lstm_bwd  gates, c_all, tanh_c, c0, W_i, W_h, dh_all (B,T,H), dc_T (B,H),
//                           dh_T (B,H)
//                             -> dz (T,B,G), dx (B,T,E), db (G), dc0 (B,H), dh0 (B,H)
//
// The sequences a model sees (x, h_all and their gradients) are batch-major, as Flax's nn.RNN
// and the layers around the LSTM read them; what only the backward pass reads is time-major,
// the order in which the steps write it. With time-major sequences XLA copied x, h_all and dh_all
// between the layouts around the calls; with xh and dz contracted in different orders it copied
// both before dW's GEMM, and db was one more pass over dz: about 3 ms of the char LM's 27 ms step
// (AVX-512, benchmarks/profile_step.py --family char_lm). xh is not written transposed for that
// GEMM: the column writes cost the forward call 1 ms (interleaved in one process), more than
// XLA's transposing copy of it.
//
// The forward pass keeps for the backward one every step's gate activations `gates`, cell c and
// tanh(c) (the backward pass would otherwise compute it again), and its inputs
// `xh` = [x_t, h_{t-1}].
//
// Why not oneDNN's LSTM primitive (what PyTorch runs): oneDNN 3.2, the CPU build pip has, trains
// f32 LSTMs on its reference cells, a GEMM library call per step that repacks W_h every time
// (its brgemm RNN kernels serve forward inference only): 93 ms against XLA's scan's 79 for the
// char LM's layer, forward and backward (AVX2; the README's "oneDNN's LSTM primitive: tried").
//
// Threads: the rows of a batch are independent through all the steps, so each thread takes a
// block of rows and runs the whole sequence on them alone: its own inner products (planned for
// one thread) and its own cells, with no synchronisation between steps. Splitting every step's
// product among the threads instead (oneDNN's own threading) took 13 to 15 ms for the char LM's
// layer's forward pass against 11 for the blocks (AVX2, 2 cores, in C++ alone) and lost far
// more inside XLA, where each step's fork and join waited on the other core.
//
// The blocks run on threads of their own (std::thread), not on an OpenMP team: every OpenMP
// team that a new master thread starts keeps its workers, and once a process's GNU OpenMP
// threads outnumber its cores, libgomp cuts every team's spin-wait to almost nothing, which
// slowed PyTorch's LSTM in the same process (it shares the one libgomp.so.1) from about 55 to
// 100 ms a step in benchmarks/family_steps.py. oneDNN is kept from starting teams of its own
// here by OpenMP's thread limit, set to 1 while a call plans and runs (SingleThreaded). Calls
// run one at a time (common.h's Exclusive), as the convolutions do.

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <initializer_list>
#include <memory>
#include <thread>
#include <vector>

#include "common.h"
#include "lstm_cell.h"

namespace {

using namespace jaxgen_onednn;  // NOLINT: this file's own library
using dnnl::memory;
using tag = memory::format_tag;

constexpr auto kF32 = memory::data_type::f32;

struct Key {
  int64_t rows, inputs, hidden;
};

// The two inner products for a block of rows, and W's reorders into their layouts.
struct Plan {
  dnnl::inner_product_forward forward;   // [x_t, h] (rows,K) -> [x_t, h] W + b (rows,G)
  dnnl::inner_product_forward backward;  // dz (rows,G) -> dz W^T (rows,K)
  Tensor w_forward, w_backward;          // W (K,G) row-major, as each one's weights
  memory::desc xh, gates, bias, forward_scratch, backward_scratch;
};

std::shared_ptr<const Plan> BuildPlan(const Key& k) {
  const int64_t g = 4 * k.hidden, kk = k.inputs + k.hidden;
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  auto plan = std::make_shared<Plan>();
  plan->xh = memory::desc({k.rows, kk}, kF32, tag::nc);
  plan->gates = memory::desc({k.rows, g}, kF32, tag::nc);
  plan->bias = memory::desc({g}, kF32, tag::x);
  // oneDNN's inner-product weights are (outputs, inputs): forward W^T, i.e. W read with strides
  // (1, G); backward W itself, (K, G) with strides (G, 1).
  const auto forward_pd = dnnl::inner_product_forward::primitive_desc(
      Engine(), dnnl::prop_kind::forward_inference, plan->xh,
      memory::desc({g, kk}, kF32, tag::any), plan->bias, plan->gates, attr);
  const auto backward_pd = dnnl::inner_product_forward::primitive_desc(
      Engine(), dnnl::prop_kind::forward_inference, plan->gates,
      memory::desc({kk, g}, kF32, tag::any), plan->xh, attr);
  plan->forward = dnnl::inner_product_forward(forward_pd);
  plan->backward = dnnl::inner_product_forward(backward_pd);
  plan->w_forward = MakeTensor(DNNL_ARG_WEIGHTS, memory::desc({g, kk}, kF32, memory::dims{1, g}),
                               forward_pd.weights_desc(), true);
  plan->w_backward = MakeTensor(DNNL_ARG_WEIGHTS, memory::desc({kk, g}, kF32, tag::oi),
                                backward_pd.weights_desc(), true);
  plan->forward_scratch = forward_pd.scratchpad_desc();
  plan->backward_scratch = backward_pd.scratchpad_desc();
  return plan;
}

PlanCache<Key, Plan>* g_plans = new PlanCache<Key, Plan>();  // never freed

// OpenMP's thread limit of the calling thread at 1 while it lives (restored after): oneDNN's
// GNU OpenMP build then plans primitives for one thread and runs them on the caller alone.
class SingleThreaded {
 public:
  SingleThreaded() : previous_(omp_get_max_threads()) { omp_set_num_threads(1); }
  ~SingleThreaded() { omp_set_num_threads(previous_); }
  SingleThreaded(const SingleThreaded&) = delete;
  SingleThreaded& operator=(const SingleThreaded&) = delete;

 private:
  int previous_;
};

// `count` blocks of n rows: the first `big` have `size + 1` rows, the rest `size` (so at most
// two plans, and W reordered at most twice).
struct Blocks {
  int64_t count, size, big;
  int64_t first(int64_t i) const { return i * size + std::min(i, big); }
  int64_t length(int64_t i) const { return size + (i < big ? 1 : 0); }
};

// As many blocks as OpenMP would run threads (OMP_NUM_THREADS, else the cores), at most n.
Blocks Split(int64_t n) {
  const int64_t count = std::max<int64_t>(1, std::min<int64_t>(omp_get_max_threads(), n));
  return Blocks{count, n / count, n % count};
}

// Runs body(i) for every block i: block 0 on the calling thread, each other on a thread of its
// own (see the note at the top), all single-threaded for oneDNN. An exception in a thread
// (oneDNN's, or bad_alloc) is rethrown here, the first block's first.
template <typename Body>
void RunBlocks(const Blocks& blocks, Body body) {
  std::vector<std::exception_ptr> errors(blocks.count);
  auto run = [&](int64_t i) {
    try {
      SingleThreaded one;
      body(i);
    } catch (...) {
      errors[i] = std::current_exception();
    }
  };
  std::vector<std::thread> threads;
  threads.reserve(blocks.count - 1);
  for (int64_t i = 1; i < blocks.count; ++i) threads.emplace_back(run, i);
  run(0);
  for (std::thread& t : threads) t.join();
  for (const std::exception_ptr& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

// Per block of rows, its plan and W in the layout of that plan's `which` primitive, reordered
// from the caller's W into scratch slots 0 and 1 (blocks of equal size share both).
struct BlockPlans {
  std::vector<std::shared_ptr<const Plan>> plans;
  std::vector<memory> weights;
};

BlockPlans PlanBlocks(Exclusive& ex, const Blocks& blocks, int64_t inputs, int64_t hidden,
                      const float* w, Tensor Plan::* which) {
  BlockPlans out;
  SingleThreaded one;  // plans for one thread each, and W's reorders on this one alone
  for (int64_t i = 0; i < blocks.count; ++i) {
    out.plans.push_back(g_plans->Get(Key{blocks.length(i), inputs, hidden}, BuildPlan));
    const Tensor& t = (*out.plans[i]).*which;
    if (i > 0 && t.prim == ((*out.plans[i - 1]).*which).prim) {
      out.weights.push_back(out.weights[i - 1]);
    } else {
      out.weights.push_back(PrepareInput(ex, t, w, static_cast<int>(out.weights.size() > 0)));
    }
  }
  return out;
}

// A 64-byte aligned buffer of a thread's own (a scratchpad, a block's rows).
class Local {
 public:
  explicit Local(size_t bytes)
      : data_(static_cast<char*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64)), std::free) {
    if (!data_) throw std::bad_alloc();
  }
  void* get() const { return data_.get(); }

 private:
  std::unique_ptr<char, void (*)(void*)> data_;
};

using Buffer = ffi::Buffer<ffi::F32>;
using Result = ffi::ResultBuffer<ffi::F32>;
using Dims = ffi::Span<const int64_t>;

// The sizes of a call: `problems` independent sequences (the product of the leading dimensions)
// of T steps of B rows, E inputs and H units.
struct Extents {
  int64_t problems = 1, t = 0, b = 0, e = 0, h = 0;
  int64_t k() const { return e + h; }
  int64_t g() const { return 4 * h; }
};

// Whether `dims` are the leading dimensions followed by `tail`.
bool Matches(Dims dims, Dims leading, std::initializer_list<int64_t> tail) {
  if (dims.size() != leading.size() + tail.size()) return false;
  if (!std::equal(leading.begin(), leading.end(), dims.begin())) return false;
  return std::equal(tail.begin(), tail.end(), dims.begin() + leading.size());
}

// Reads the sizes from W_i (..., E, G), W_h (..., H, G) and a sequence (..., T, B, C), or
// (..., B, T, C) when `batch_major`, with the same leading dimensions (C is not checked here;
// the caller checks that W_i and W_h have the leading dimensions and G = 4H).
ffi::Error ReadExtents(Dims seq, bool batch_major, Dims w_i, Dims w_h, Extents* s,
                       Dims* leading) {
  if (seq.size() < 3 || w_i.size() != seq.size() - 1 || w_h.size() != seq.size() - 1 ||
      w_h[w_h.size() - 1] % 4 != 0) {
    return ffi::Error::InvalidArgument(
        "the LSTM needs (..., T, B, C) sequences and (..., E, 4H), (..., H, 4H) weights");
  }
  *leading = Dims(seq.begin(), seq.size() - 3);
  s->problems = 1;
  for (int64_t d : *leading) s->problems *= d;
  s->t = seq[seq.size() - (batch_major ? 2 : 3)];
  s->b = seq[seq.size() - (batch_major ? 3 : 2)];
  s->h = w_h[w_h.size() - 1] / 4;
  s->e = w_i[w_i.size() - 2];
  if (s->t < 1 || s->b < 1 || s->e < 1 || s->h < 1) {
    return ffi::Error::InvalidArgument("the LSTM needs T, B, E and H of at least 1");
  }
  return ffi::Error::Success();
}

ffi::Error Mismatch() { return ffi::Error::InvalidArgument("the LSTM's tensors disagree in shape"); }

// Problem p's W = [W_i; W_h] (K, G), row-major, in `joined`: the one matrix the plans' reorders
// read. The caller hands the halves as they are: XLA's concatenation of them took about 0.5 ms of
// the char LM's step, where each call copies them here (1.2 MB for the char LM) before reordering
// W anyway.
const float* JoinWeights(Buffer w_i, Buffer w_h, const Extents& s, int64_t p,
                         std::vector<float>* joined) {
  const int64_t g = s.g();
  joined->resize(s.k() * g);
  std::memcpy(joined->data(), w_i.typed_data() + p * s.e * g, s.e * g * sizeof(float));
  std::memcpy(joined->data() + s.e * g, w_h.typed_data() + p * s.h * g, s.h * g * sizeof(float));
  return joined->data();
}

ffi::Error Forward(Buffer x, Buffer w_i, Buffer w_h, Buffer b, Buffer c0, Buffer h0,
                   Result h_all, Result c_all, Result tanh_c_all, Result gates, Result xh_all) {
  Extents s;
  Dims lead;
  if (ffi::Error err = ReadExtents(x.dimensions(), true, w_i.dimensions(), w_h.dimensions(), &s,
                                   &lead);
      !err.success()) {
    return err;
  }
  if (!(Matches(x.dimensions(), lead, {s.b, s.t, s.e}) &&
        Matches(w_i.dimensions(), lead, {s.e, s.g()}) &&
        Matches(w_h.dimensions(), lead, {s.h, s.g()}) && Matches(b.dimensions(), lead, {s.g()}) &&
        Matches(c0.dimensions(), lead, {s.b, s.h}) && Matches(h0.dimensions(), lead, {s.b, s.h}) &&
        Matches(h_all->dimensions(), lead, {s.b, s.t, s.h}) &&
        Matches(c_all->dimensions(), lead, {s.t, s.b, s.h}) &&
        Matches(tanh_c_all->dimensions(), lead, {s.t, s.b, s.h}) &&
        Matches(gates->dimensions(), lead, {s.t, s.b, s.g()}) &&
        Matches(xh_all->dimensions(), lead, {s.t, s.b, s.k()}))) {
    return Mismatch();
  }
  return Guarded("LSTM forward", [&] {
    const int64_t kk = s.k(), g = s.g(), state = s.b * s.h;
    const Blocks blocks = Split(s.b);
    Exclusive ex;
    std::vector<float> w;  // [W_i; W_h] of the problem at hand
    for (int64_t p = 0; p < s.problems; ++p) {
      const float* x_p = x.typed_data() + p * s.t * s.b * s.e;
      const float* b_p = b.typed_data() + p * g;
      const float* c0_p = c0.typed_data() + p * state;
      const float* h0_p = h0.typed_data() + p * state;
      float* h_p = h_all->typed_data() + p * s.t * state;
      float* c_p = c_all->typed_data() + p * s.t * state;
      float* tanh_c_p = tanh_c_all->typed_data() + p * s.t * state;
      float* gates_p = gates->typed_data() + p * s.t * s.b * g;
      float* xh_p = xh_all->typed_data() + p * s.t * s.b * kk;
      const BlockPlans bp = PlanBlocks(ex, blocks, s.e, s.h, JoinWeights(w_i, w_h, s, p, &w),
                                       &Plan::w_forward);
      RunBlocks(blocks, [&](int64_t i) {
        const Plan& plan = *bp.plans[i];
        const int64_t r = blocks.first(i), rows = blocks.length(i);
        dnnl::stream stream(Engine());
        Local scratchpad(plan.forward_scratch.get_size());
        memory scratch(plan.forward_scratch, Engine(), scratchpad.get());
        memory bias(plan.bias, Engine(), const_cast<float*>(b_p));
        memory src(plan.xh, Engine(), nullptr), dst(plan.gates, Engine(), nullptr);
        for (int64_t t = 0; t < s.t; ++t) {
          float* xh = xh_p + (t * s.b + r) * kk;  // this block's rows of [x_t, h_{t-1}]
          src.set_data_handle(xh);
          for (int64_t row = 0; row < rows; ++row) {
            const int64_t n = r + row;  // the batch row
            const float* h_in = t == 0 ? h0_p + n * s.h : h_p + (n * s.t + t - 1) * s.h;
            std::memcpy(xh + row * kk, x_p + (n * s.t + t) * s.e, s.e * sizeof(float));
            std::memcpy(xh + row * kk + s.e, h_in, s.h * sizeof(float));
          }
          float* z = gates_p + (t * s.b + r) * g;  // the pre-activations, then the gates
          dst.set_data_handle(z);
          plan.forward.execute(stream, {{DNNL_ARG_SRC, src},
                                        {DNNL_ARG_WEIGHTS, bp.weights[i]},
                                        {DNNL_ARG_BIAS, bias},
                                        {DNNL_ARG_DST, dst},
                                        {DNNL_ARG_SCRATCHPAD, scratch}});
          const float* c_in = t == 0 ? c0_p : c_p + (t - 1) * state;
          LstmCellForward(rows, s.h, z, c_in + r * s.h, c_p + t * state + r * s.h,
                          tanh_c_p + t * state + r * s.h, h_p + (r * s.t + t) * s.h, s.t * s.h);
        }
        stream.wait();
      });
    }
  });
}

ffi::Error Backward(Buffer gates, Buffer c_all, Buffer tanh_c_all, Buffer c0, Buffer w_i,
                    Buffer w_h, Buffer dh_all, Buffer dc_last, Buffer dh_last, Result dz,
                    Result dx, Result db, Result dc0, Result dh0) {
  Extents s;
  Dims lead;
  if (ffi::Error err = ReadExtents(gates.dimensions(), false, w_i.dimensions(), w_h.dimensions(),
                                   &s, &lead);
      !err.success()) {
    return err;
  }
  bool ok = Matches(gates.dimensions(), lead, {s.t, s.b, s.g()}) &&
            Matches(dz->dimensions(), lead, {s.t, s.b, s.g()}) &&
            Matches(w_i.dimensions(), lead, {s.e, s.g()}) &&
            Matches(w_h.dimensions(), lead, {s.h, s.g()}) &&
            Matches(c_all.dimensions(), lead, {s.t, s.b, s.h}) &&
            Matches(tanh_c_all.dimensions(), lead, {s.t, s.b, s.h}) &&
            Matches(dh_all.dimensions(), lead, {s.b, s.t, s.h}) &&
            Matches(dx->dimensions(), lead, {s.b, s.t, s.e}) &&
            Matches(db->dimensions(), lead, {s.g()});
  for (Dims d : {c0.dimensions(), dc_last.dimensions(), dh_last.dimensions(), dc0->dimensions(),
                 dh0->dimensions()}) {
    ok = ok && Matches(d, lead, {s.b, s.h});
  }
  if (!ok) return Mismatch();
  return Guarded("LSTM backward", [&] {
    const int64_t kk = s.k(), g = s.g(), state = s.b * s.h, steps = s.t * s.b;
    const Blocks blocks = Split(s.b);
    Exclusive ex;
    std::vector<float> w;  // [W_i; W_h] of the problem at hand
    // Each batch row's sum of dz over the steps (the last step's first), then db = their sum
    // in row order: the same additions whatever the blocks.
    std::vector<float> row_sums(s.b * g);
    for (int64_t p = 0; p < s.problems; ++p) {
      const float* gates_p = gates.typed_data() + p * steps * g;
      const float* c_p = c_all.typed_data() + p * s.t * state;
      const float* tanh_c_p = tanh_c_all.typed_data() + p * s.t * state;
      const float* c0_p = c0.typed_data() + p * state;
      const float* dh_p = dh_all.typed_data() + p * s.t * state;
      float* dz_p = dz->typed_data() + p * steps * g;
      float* dx_p = dx->typed_data() + p * steps * s.e;
      // dc0 and dh0 carry dc and dh_next back through the steps, from dc_T and dh_T.
      float* dc = dc0->typed_data() + p * state;
      float* dh_next = dh0->typed_data() + p * state;
      std::memcpy(dc, dc_last.typed_data() + p * state, state * sizeof(float));
      std::memcpy(dh_next, dh_last.typed_data() + p * state, state * sizeof(float));
      std::fill(row_sums.begin(), row_sums.end(), 0.0f);
      const BlockPlans bp = PlanBlocks(ex, blocks, s.e, s.h, JoinWeights(w_i, w_h, s, p, &w),
                                       &Plan::w_backward);
      RunBlocks(blocks, [&](int64_t i) {
        const Plan& plan = *bp.plans[i];
        const int64_t r = blocks.first(i), rows = blocks.length(i);
        dnnl::stream stream(Engine());
        Local scratchpad(plan.backward_scratch.get_size());
        Local dxh(rows * kk * sizeof(float));  // dz W^T of this block: [dx_t, dh_{t-1}]
        memory scratch(plan.backward_scratch, Engine(), scratchpad.get());
        memory src(plan.gates, Engine(), nullptr), dst(plan.xh, Engine(), dxh.get());
        const float* dxh_rows = static_cast<const float*>(dxh.get());
        float* sums = row_sums.data() + r * g;
        for (int64_t t = s.t - 1; t >= 0; --t) {
          const float* c_in = t == 0 ? c0_p : c_p + (t - 1) * state;
          float* dz_t = dz_p + (t * s.b + r) * g;
          LstmCellBackward(rows, s.h, gates_p + (t * s.b + r) * g, tanh_c_p + t * state + r * s.h,
                           c_in + r * s.h, dh_p + (r * s.t + t) * s.h, s.t * s.h,
                           dh_next + r * s.h, dc + r * s.h, dz_t);
          for (int64_t j = 0; j < rows * g; ++j) sums[j] += dz_t[j];
          src.set_data_handle(dz_t);
          plan.backward.execute(stream, {{DNNL_ARG_SRC, src},
                                         {DNNL_ARG_WEIGHTS, bp.weights[i]},
                                         {DNNL_ARG_DST, dst},
                                         {DNNL_ARG_SCRATCHPAD, scratch}});
          for (int64_t row = 0; row < rows; ++row) {
            std::memcpy(dx_p + ((r + row) * s.t + t) * s.e, dxh_rows + row * kk,
                        s.e * sizeof(float));
            std::memcpy(dh_next + (r + row) * s.h, dxh_rows + row * kk + s.e,
                        s.h * sizeof(float));
          }
        }
        stream.wait();
      });
      float* db_p = db->typed_data() + p * g;
      std::copy(row_sums.begin(), row_sums.begin() + g, db_p);
      for (int64_t n = 1; n < s.b; ++n) {
        for (int64_t j = 0; j < g; ++j) db_p[j] += row_sums[n * g + j];
      }
    }
  });
}

}  // namespace

JAXGEN_EXPORT XLA_FFI_Error* jaxgen_onednn_lstm_fwd(XLA_FFI_CallFrame*);
JAXGEN_EXPORT XLA_FFI_Error* jaxgen_onednn_lstm_bwd(XLA_FFI_CallFrame*);

XLA_FFI_DEFINE_HANDLER_SYMBOL(jaxgen_onednn_lstm_fwd, Forward,
                              ffi::Ffi::Bind()
                                  .Arg<Buffer>()  // x
                                  .Arg<Buffer>()  // W_i
                                  .Arg<Buffer>()  // W_h
                                  .Arg<Buffer>()  // b
                                  .Arg<Buffer>()  // c0
                                  .Arg<Buffer>()  // h0
                                  .Ret<Buffer>()  // h_all
                                  .Ret<Buffer>()  // c_all
                                  .Ret<Buffer>()  // tanh_c
                                  .Ret<Buffer>()  // gates
                                  .Ret<Buffer>());  // xh
XLA_FFI_DEFINE_HANDLER_SYMBOL(jaxgen_onednn_lstm_bwd, Backward,
                              ffi::Ffi::Bind()
                                  .Arg<Buffer>()  // gates
                                  .Arg<Buffer>()  // c_all
                                  .Arg<Buffer>()  // tanh_c
                                  .Arg<Buffer>()  // c0
                                  .Arg<Buffer>()  // W_i
                                  .Arg<Buffer>()  // W_h
                                  .Arg<Buffer>()  // dh_all
                                  .Arg<Buffer>()  // dc_T
                                  .Arg<Buffer>()  // dh_T
                                  .Ret<Buffer>()  // dz
                                  .Ret<Buffer>()  // dx
                                  .Ret<Buffer>()  // db
                                  .Ret<Buffer>()  // dc0
                                  .Ret<Buffer>());  // dh0

// Number of cached LSTM plans (the tests check that repeated calls reuse them).
JAXGEN_EXPORT int64_t jaxgen_onednn_lstm_num_plans() { return g_plans->size(); }
