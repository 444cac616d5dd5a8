// jaxgen_run_after: x (any type and shape), then any number of other buffers -> x.
//
// A no-op that gives XLA:CPU's executor a data dependency: the result is x (aliased to it by the
// caller, so nothing is copied), and it exists only once every other operand does. XLA:CPU runs
// any two operations that do not depend on each other concurrently; when one of them is a
// oneDNN primitive, which already spreads over every core with its own OpenMP team, the other
// branch's fusions share those cores with it and both run slower (jaxgen/nn/onednn.py's
// run_after says where jaxgen uses it, and what it measured). JAX's optimization_barrier does
// not do this: XLA drops it before the executor builds its graph.

#include <cstring>

#include "common.h"

namespace {

using namespace jaxgen_onednn;  // NOLINT: this file's own library

ffi::Error RunAfter(ffi::AnyBuffer x, ffi::Result<ffi::AnyBuffer> out, ffi::RemainingArgs) {
  // XLA honours the alias (inserting a copy before the call if x is still needed elsewhere), so
  // the result is x's buffer already; copy only if it ever is not.
  if (out->untyped_data() != x.untyped_data()) {
    std::memcpy(out->untyped_data(), x.untyped_data(), x.size_bytes());
  }
  return ffi::Error::Success();
}

}  // namespace

JAXGEN_EXPORT XLA_FFI_Error* jaxgen_run_after(XLA_FFI_CallFrame*);

// x, the result, then the dependencies (any number, any types; never read).
XLA_FFI_DEFINE_HANDLER_SYMBOL(
    jaxgen_run_after, RunAfter,
    ffi::Ffi::Bind().Arg<ffi::AnyBuffer>().Ret<ffi::AnyBuffer>().RemainingArgs());
