// The fields of stat(2) that tell whether a file changed, without Node's Stats object (issue 15):
// the shadow backend stats passwd and shadow on every request, cache hits included, and
// fs.statSync builds a Stats with four Dates each time.
#include <errno.h>
#include <sys/stat.h>

#include <string>

#include "addon.h"

namespace {

// statStamp(path: string, out: Float64Array(6)): 0, or -errno. `out` gets ino, size, mtime s, mtime
// ns, ctime s, ctime ns.
Napi::Value StatStamp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString() || !info[1].IsTypedArray()) throw Napi::TypeError::New(env, "statStamp(path: string, out: Float64Array)");
  auto out = info[1].As<Napi::TypedArray>();
  if (out.TypedArrayType() != napi_float64_array || out.ElementLength() < 6) throw Napi::TypeError::New(env, "out must be a Float64Array of 6");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return Napi::Number::New(env, -errno);
  double* d = out.As<Napi::Float64Array>().Data();
  d[0] = static_cast<double>(st.st_ino);
  d[1] = static_cast<double>(st.st_size);
  d[2] = static_cast<double>(st.st_mtim.tv_sec);
  d[3] = static_cast<double>(st.st_mtim.tv_nsec);
  d[4] = static_cast<double>(st.st_ctim.tv_sec);
  d[5] = static_cast<double>(st.st_ctim.tv_nsec);
  return Napi::Number::New(env, 0);
}

}  // namespace

void InitStatStamp(Napi::Env env, Napi::Object exports) { exports.Set("statStamp", Napi::Function::New(env, StatStamp, "statStamp")); }
