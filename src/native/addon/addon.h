// One module, several small feature files; each registers its exports here.
#pragma once
#include <napi.h>
#include <string.h>

#include <memory>
#include <vector>

// Plain byte buffer that is wiped when it goes away, so copies of passwords don't linger.
// One NUL past the end, so C APIs can take data() as a string.
class WipedBytes {
 public:
  explicit WipedBytes(size_t n) : bytes_(n + 1, '\0') {}
  ~WipedBytes() { explicit_bzero(bytes_.data(), bytes_.size()); }
  char* data() { return bytes_.data(); }

 private:
  std::vector<char> bytes_;
};

// Copies a JS Buffer holding a secret into memory we own and wipe.
inline std::unique_ptr<WipedBytes> CopySecret(const Napi::Value& v) {
  if (!v.IsBuffer()) throw Napi::TypeError::New(v.Env(), "password must be a Buffer");
  auto buf = v.As<Napi::Buffer<uint8_t>>();
  auto secret = std::make_unique<WipedBytes>(buf.Length());
  memcpy(secret->data(), buf.Data(), buf.Length());
  return secret;
}

void InitCrypt(Napi::Env env, Napi::Object exports);
void InitGetpwent(Napi::Env env, Napi::Object exports);
void InitDgram(Napi::Env env, Napi::Object exports);
void InitPeerCred(Napi::Env env, Napi::Object exports);
void InitSasldb(Napi::Env env, Napi::Object exports);
void InitKrb5(Napi::Env env, Napi::Object exports);
void InitStatStamp(Napi::Env env, Napi::Object exports);
void InitHmac(Napi::Env env, Napi::Object exports);
