// crypt(3) through libxcrypt's reentrant crypt_rn, run on libuv's thread pool so a slow hash
// (yescrypt, bcrypt) never blocks the event loop. Secrets are copied into memory we own and wiped.
#include <crypt.h>
#include <string.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "addon.h"
#include "sha512-crypt.h"

extern "C" {
#include "yescrypt/yescrypt.h"
}

namespace {

// A region larger than this (a `$y$` cost above Debian's default 16 MiB) is freed after its hash
// rather than kept for the next one.
constexpr size_t kKeepRegionMax = 32u << 20;

// yescrypt working memory, kept from one `$y$` hash to the next. libxcrypt maps and unmaps it on
// every call, and the page faults, zeroing and unmap were half the CPU of each hash (issue 15). It
// holds password-derived data, so it is wiped after every hash, as the 32 KiB crypt_data is.
class YescryptRegion {
 public:
  YescryptRegion() { yescrypt_init_local(&local_); }
  ~YescryptRegion() { yescrypt_free_local(&local_); }
  YescryptRegion(const YescryptRegion&) = delete;
  YescryptRegion& operator=(const YescryptRegion&) = delete;

  yescrypt_local_t* local() { return &local_; }

  void Wipe() {
    if (local_.aligned != nullptr) explicit_bzero(local_.aligned, local_.aligned_size);
    if (local_.aligned_size > kKeepRegionMax) {
      yescrypt_free_local(&local_);
      yescrypt_init_local(&local_);
    }
  }

 private:
  yescrypt_local_t local_;
};

// Idle regions. A hash takes one (or makes one) and gives it back, so there are never more regions
// than hashes that ran at once: the Crypt pool's size (-n), not the number of libuv threads. Trim()
// frees those idle for a while, so a burst of `$y$` logins does not leave 16 MiB per hash resident
// in a daemon that then answers from its cache.
class RegionPool {
 public:
  std::unique_ptr<YescryptRegion> Take() {
    std::lock_guard<std::mutex> lock(mu_);
    if (idle_.empty()) return std::make_unique<YescryptRegion>();
    auto r = std::move(idle_.back().region);
    idle_.pop_back();
    return r;
  }

  void Give(std::unique_ptr<YescryptRegion> r) {
    std::lock_guard<std::mutex> lock(mu_);
    idle_.push_back({std::move(r), std::chrono::steady_clock::now()});
  }

  // Frees the regions idle for at least `idle`; returns how many are still kept idle.
  size_t Trim(std::chrono::milliseconds idle) {
    std::vector<std::unique_ptr<YescryptRegion>> freed;
    size_t left;
    {
      std::lock_guard<std::mutex> lock(mu_);
      const auto cutoff = std::chrono::steady_clock::now() - idle;
      // Given back in time order: the oldest are at the front.
      size_t n = 0;
      while (n < idle_.size() && idle_[n].since <= cutoff) n++;
      for (size_t i = 0; i < n; i++) freed.push_back(std::move(idle_[i].region));
      idle_.erase(idle_.begin(), idle_.begin() + static_cast<std::ptrdiff_t>(n));
      left = idle_.size();
    }
    return left;  // `freed` is unmapped here, outside the lock
  }

 private:
  struct Idle {
    std::unique_ptr<YescryptRegion> region;
    std::chrono::steady_clock::time_point since;
  };
  std::mutex mu_;
  std::vector<Idle> idle_;
};

// Never destroyed: at exit a hashing thread may still be giving its region back.
RegionPool& yescrypt_regions = *new RegionPool();

// `$y$params$salt$` with an optional hash after it, every field in crypt's base-64 alphabet: the
// only form sent to yescrypt_r directly. Anything else goes to libxcrypt, which applies its own checks.
bool PlainYescryptSetting(const std::string& s) {
  if (s.compare(0, 3, "$y$") != 0) return false;
  int dollars = 0;
  size_t field = 0;
  for (size_t i = 3; i < s.size(); i++) {
    if (s[i] == '$') {
      if (field == 0 || ++dollars > 2) return false;
      field = 0;
    } else if (!IsCryptBase64(s[i])) {
      return false;
    } else {
      field++;
    }
  }
  return dollars == 2 || (dollars == 1 && field > 0);
}

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
    // Longer phrases are libxcrypt's to refuse (CRYPT_MAX_PASSPHRASE_SIZE), as before.
    const bool fits = strlen(phrase_->data()) < CRYPT_MAX_PASSPHRASE_SIZE;
    std::string sha512;
    if (fits && Sha512Crypt(phrase_->data(), setting_, &sha512)) {
      Finish(sha512.c_str());
      return;
    }
    if (fits && PlainYescryptSetting(setting_)) {
      // libxcrypt's $y$ is this same yescrypt_r call, with a region mapped for this hash only.
      uint8_t buf[256];
      auto region = yescrypt_regions.Take();
      const uint8_t* out = yescrypt_r(nullptr, region->local(), reinterpret_cast<const uint8_t*>(phrase_->data()),
                                      strlen(phrase_->data()), reinterpret_cast<const uint8_t*>(setting_.c_str()), nullptr, buf, sizeof buf);
      region->Wipe();
      yescrypt_regions.Give(std::move(region));
      Finish(out != nullptr ? reinterpret_cast<const char*>(out) : nullptr);
      explicit_bzero(buf, sizeof buf);
      return;
    }
    CryptData cd;
    Finish(crypt_rn(phrase_->data(), setting_.c_str(), &cd.data, sizeof cd.data));
  }

  void Finish(const char* out) {
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

// yescryptTrim(idleMs: number): number — frees kept yescrypt regions idle for idleMs or more;
// returns how many idle ones are still kept.
Napi::Value YescryptTrim(const Napi::CallbackInfo& info) {
  const int64_t ms = info[0].IsNumber() ? info[0].As<Napi::Number>().Int64Value() : 0;
  return Napi::Number::New(info.Env(), static_cast<double>(yescrypt_regions.Trim(std::chrono::milliseconds(ms < 0 ? 0 : ms))));
}

}  // namespace

void InitCrypt(Napi::Env env, Napi::Object exports) {
  exports.Set("yescryptTrim", Napi::Function::New(env, YescryptTrim, "yescryptTrim"));
  exports.Set("verify", Napi::Function::New(env, Verify, "verify"));
  exports.Set("hash", Napi::Function::New(env, Hash, "hash"));
  exports.Set("gensalt", Napi::Function::New(env, Gensalt, "gensalt"));
}
