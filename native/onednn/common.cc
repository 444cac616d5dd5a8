// The shared pieces of common.h, and the library's C API that is not about one primitive.

#include "common.h"

namespace jaxgen_onednn {

dnnl::engine& Engine() {
  static dnnl::engine* engine = new dnnl::engine(dnnl::engine::kind::cpu, 0);
  return *engine;
}

void* Buffers::Get(int slot, size_t bytes) {
  Buffer& b = buffers_.at(slot);
  if (bytes > b.size) {
    b.data.reset(static_cast<char*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64)));
    if (!b.data) throw std::bad_alloc();
    b.size = bytes;
  }
  return b.data.get();
}

namespace {
std::mutex g_execute_mutex;
}  // namespace

Exclusive::Exclusive() : lock_(g_execute_mutex) {
  // Never freed: they outlive any late call at exit.
  static dnnl::stream* stream = new dnnl::stream(Engine());
  static Buffers* buffers = new Buffers();
  stream_ = stream;
  buffers_ = buffers;
}

Tensor MakeTensor(int arg, const dnnl::memory::desc& user, const dnnl::memory::desc& prim,
                  bool is_input) {
  Tensor t;
  t.arg = arg;
  t.user = user;
  t.prim = prim;
  if (t.needs_reorder()) {
    const auto& from = is_input ? user : prim;
    const auto& to = is_input ? prim : user;
    t.reorder = dnnl::reorder(dnnl::reorder::primitive_desc(Engine(), from, Engine(), to));
  }
  return t;
}

dnnl::memory PrepareInput(Exclusive& ex, const Tensor& t, const void* data, int slot) {
  dnnl::memory user(t.user, Engine(), const_cast<void*>(data));
  if (!t.needs_reorder()) return user;
  dnnl::memory prim(t.prim, Engine(), ex.buffers().Get(slot, t.prim.get_size()));
  t.reorder.execute(ex.stream(), user, prim);
  return prim;
}

dnnl::memory PrepareOutput(Exclusive& ex, const Tensor& t, void* data, int slot) {
  if (!t.needs_reorder()) return dnnl::memory(t.user, Engine(), data);
  return dnnl::memory(t.prim, Engine(), ex.buffers().Get(slot, t.prim.get_size()));
}

void FinishOutput(Exclusive& ex, const Tensor& t, dnnl::memory prim, void* data) {
  if (!t.needs_reorder()) return;
  dnnl::memory user(t.user, Engine(), data);
  t.reorder.execute(ex.stream(), prim, user);
}

}  // namespace jaxgen_onednn

// The oneDNN version, its CPU runtime and threading runtime, e.g. "3.2.0 OpenMP/OpenMP".
// (A SYCL build runs CPU primitives through SYCL, threaded by its threading runtime.)
JAXGEN_EXPORT const char* jaxgen_onednn_runtime() {
  static const std::string text = [] {
    auto name = [](unsigned runtime) -> std::string {
      switch (runtime) {
        case DNNL_RUNTIME_SEQ: return "sequential";
        case DNNL_RUNTIME_OMP: return "OpenMP";
        case DNNL_RUNTIME_TBB: return "TBB";
        case DNNL_RUNTIME_THREADPOOL: return "threadpool";
        case DNNL_RUNTIME_SYCL: return "SYCL";
        default: return "other";
      }
    };
    const dnnl_version_t* v = dnnl::version();
    return std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
           std::to_string(v->patch) + " " + name(v->cpu_runtime) + "/" +
           name(DNNL_CPU_THREADING_RUNTIME);
  }();
  return text.c_str();
}
