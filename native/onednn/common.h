// What jaxgen's oneDNN primitives (conv.cc: convolutions, lstm.cc: the LSTM) share: the CPU
// engine, the rule that primitives run one at a time with one stream and one set of scratch
// buffers, reorders between the caller's layouts and a primitive's, a per-shape plan cache and
// the export macro.
//
// The library is built with hidden visibility (it must not export oneDNN's inline C++ symbols,
// which other copies of oneDNN in the process, e.g. PyTorch's, also define); only the FFI
// handlers and the small C API are exported, each declared with JAXGEN_EXPORT (a declaration
// with the attribute fixes the visibility of XLA_FFI_DEFINE_HANDLER_SYMBOL's definition).
#pragma once

#include <dnnl.hpp>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "xla/ffi/api/ffi.h"

#define JAXGEN_EXPORT extern "C" __attribute__((visibility("default")))

namespace jaxgen_onednn {

namespace ffi = xla::ffi;

dnnl::engine& Engine();

// Grow-only, 64-byte aligned scratch buffers, one per slot: a reordered tensor each, and
// oneDNN's scratchpad (user-managed, so that it is reused rather than allocated by every
// primitive).
class Buffers {
 public:
  static constexpr int kSlots = 8;
  void* Get(int slot, size_t bytes);

 private:
  struct Free {
    void operator()(char* p) const { std::free(p); }
  };
  struct Buffer {
    std::unique_ptr<char, Free> data;
    size_t size = 0;
  };
  std::array<Buffer, kSlots> buffers_;
};

// oneDNN's OpenMP runtime gives every calling thread its own team of as many threads as cores,
// so two primitives launched at once from two XLA threads would oversubscribe the cores (with
// spinning barriers). One primitive already uses every core, so running them one at a time
// loses nothing; it also lets them share one stream and one set of buffers. (XLA:CPU does issue
// independent custom calls at once: in the DCGAN's step, the two generators' forward passes
// queued here for each other's primitives.) Holding an Exclusive is holding that right.
class Exclusive {
 public:
  Exclusive();
  dnnl::stream& stream() { return *stream_; }
  Buffers& buffers() { return *buffers_; }

 private:
  std::lock_guard<std::mutex> lock_;
  dnnl::stream* stream_;
  Buffers* buffers_;
};

// One tensor of a primitive: the caller's layout, the primitive's, and the reorder between
// them (empty when they agree). An input is reordered into the primitive's layout before the
// primitive runs, an output back into the caller's after it.
struct Tensor {
  int arg = 0;
  dnnl::memory::desc user, prim;
  dnnl::reorder reorder;
  bool needs_reorder() const { return user != prim; }
};

Tensor MakeTensor(int arg, const dnnl::memory::desc& user, const dnnl::memory::desc& prim,
                  bool is_input);

// The memory a primitive reads (an input: the caller's buffer, or its reorder into `slot`'s
// scratch buffer) or writes (an output: the caller's buffer, or `slot`'s scratch buffer, which
// FinishOutput then reorders into the caller's). oneDNN's memory objects take mutable handles;
// inputs are only read.
dnnl::memory PrepareInput(Exclusive& ex, const Tensor& t, const void* data, int slot);
dnnl::memory PrepareOutput(Exclusive& ex, const Tensor& t, void* data, int slot);
void FinishOutput(Exclusive& ex, const Tensor& t, dnnl::memory prim, void* data);

// FNV-1a over a key's bytes: a few hundred cycles, nothing next to a primitive.
template <typename Key>
struct BytewiseHash {
  static_assert(std::has_unique_object_representations_v<Key>, "Key is hashed bytewise");
  size_t operator()(const Key& k) const {
    const auto* p = reinterpret_cast<const unsigned char*>(&k);
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < sizeof(Key); ++i) h = (h ^ p[i]) * 1099511628211ull;
    return static_cast<size_t>(h);
  }
};

template <typename Key>
struct BytewiseEqual {
  bool operator()(const Key& a, const Key& b) const {
    return std::memcmp(&a, &b, sizeof(Key)) == 0;
  }
};

// Per key (a plain struct of ints, zeroed before it is filled so that it hashes bytewise), the
// plan that Build makes from it, built once: building a primitive descriptor dispatches over
// implementations and costs far more than a small primitive. Plans are immutable once built;
// building happens under the lock too (it is rare, and keeps two threads from building the
// same plan).
template <typename Key, typename Plan>
class PlanCache {
 public:
  template <typename Build>
  std::shared_ptr<const Plan> Get(const Key& key, Build build) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = plans_.find(key);
    if (it != plans_.end()) return it->second;
    std::shared_ptr<const Plan> plan = build(key);
    plans_.emplace(key, plan);
    return plan;
  }

  int64_t size() {
    std::lock_guard<std::mutex> lock(mutex_);
    return static_cast<int64_t>(plans_.size());
  }

 private:
  std::mutex mutex_;
  std::unordered_map<Key, std::shared_ptr<const Plan>, BytewiseHash<Key>, BytewiseEqual<Key>>
      plans_;
};

// Runs `body` (which builds or finds a plan and executes it), turning oneDNN's and other C++
// exceptions into FFI errors that name `what`.
template <typename Body>
ffi::Error Guarded(const char* what, Body body) {
  try {
    body();
  } catch (const dnnl::error& e) {
    return ffi::Error::Internal(std::string("oneDNN ") + what + ": " + e.what());
  } catch (const std::exception& e) {
    return ffi::Error::Internal(std::string("jaxgen oneDNN ") + what + ": " + e.what());
  }
  return ffi::Error::Success();
}

}  // namespace jaxgen_onednn
