// crypt(3) through libxcrypt's reentrant crypt_rn, run on libuv's thread pool so a slow hash
// (yescrypt, bcrypt) never blocks the event loop. Secrets are copied into memory we own and wiped.
#include <crypt.h>
#include <string.h>

#include <memory>
#include <string>
#include <vector>

#include "addon.h"

namespace {

struct CryptData {
  struct crypt_data data;
  CryptData() { memset(&data, 0, sizeof data); }
  ~CryptData() { explicit_bzero(&data, sizeof data); }
};

// Constant time in the content of the strings; the length of a hash is public.
bool ConstantTimeEquals(const char* a, const std::string& b) {
  size_t alen = strlen(a);
  if (alen != b.size()) return false;
  volatile unsigned char diff = 0;
  for (size_t i = 0; i < alen; i++) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::string SettingArg(const Napi::Value& v) {
  if (!v.IsString()) throw Napi::TypeError::New(v.Env(), "hash/setting must be a string");
  return v.As<Napi::String>().Utf8Value();
}

// Hashes `phrase` with `setting`; a NULL or a failure token ("*0", "*1") means the hash is unusable.
class CryptWorker : public Napi::AsyncWorker {
 public:
  CryptWorker(Napi::Env env, std::unique_ptr<WipedBytes> phrase, std::string setting, bool verify)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        phrase_(std::move(phrase)),
        setting_(std::move(setting)),
        verify_(verify) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    CryptData cd;
    const char* out = crypt_rn(phrase_->data(), setting_.c_str(), &cd.data, sizeof cd.data);
    usable_ = out != nullptr && out[0] != '*';
    if (!usable_) return;
    if (verify_) {
      matched_ = ConstantTimeEquals(out, setting_);
    } else {
      result_ = out;
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (verify_) {
      deferred_.Resolve(Napi::Boolean::New(env, usable_ && matched_));
    } else {
      deferred_.Resolve(usable_ ? Napi::String::New(env, result_) : env.Null());
    }
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::unique_ptr<WipedBytes> phrase_;
  std::string setting_;
  bool verify_;
  bool usable_ = false;
  bool matched_ = false;
  std::string result_;
};

// verify(password: Buffer, hash: string): Promise<boolean>
Napi::Value Verify(const Napi::CallbackInfo& info) {
  auto* w = new CryptWorker(info.Env(), CopySecret(info[0]), SettingArg(info[1]), true);
  auto p = w->Promise();
  w->Queue();
  return p;
}

// hash(password: Buffer, setting: string): Promise<string | null>
Napi::Value Hash(const Napi::CallbackInfo& info) {
  auto* w = new CryptWorker(info.Env(), CopySecret(info[0]), SettingArg(info[1]), false);
  auto p = w->Promise();
  w->Queue();
  return p;
}

// gensalt(prefix: string, rounds: number): string | null — random salt from the kernel.
Napi::Value Gensalt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string prefix = SettingArg(info[0]);
  unsigned long rounds = info[1].IsNumber() ? info[1].As<Napi::Number>().Uint32Value() : 0;
  char out[CRYPT_GENSALT_OUTPUT_SIZE];
  const char* s = crypt_gensalt_rn(prefix.c_str(), rounds, nullptr, 0, out, sizeof out);
  if (s == nullptr || s[0] == '*') return env.Null();
  return Napi::String::New(env, s);
}

}  // namespace

void InitCrypt(Napi::Env env, Napi::Object exports) {
  exports.Set("verify", Napi::Function::New(env, Verify, "verify"));
  exports.Set("hash", Napi::Function::New(env, Hash, "hash"));
  exports.Set("gensalt", Napi::Function::New(env, Gensalt, "gensalt"));
}
