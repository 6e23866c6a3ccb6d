// HMAC-SHA-256 under a fixed key, in one call (issue 15). Every request digests its password under
// the daemon's random key (the credential cache, the penalty's password memory); createHmac costs
// an object, three calls and OpenSSL's provider lookup each time. The key's inner and outer SHA-256
// states are computed once (RFC 2104), so a digest is two compressions of a short message.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <string.h>

#include "addon.h"

namespace {

constexpr size_t kBlock = SHA256_CBLOCK;
constexpr size_t kState = 2 * sizeof(SHA256_CTX);

// Byte arrays only: another TypedArray's element count is not its size in bytes.
bool IsBytes(const Napi::Value& v) { return v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array; }

// hmacSha256Prepare(key: Uint8Array, state: Uint8Array(hmacSha256StateBytes)): the pad states.
Napi::Value Prepare(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!IsBytes(info[0]) || !IsBytes(info[1])) throw Napi::TypeError::New(env, "hmacSha256Prepare(key: Uint8Array, state: Uint8Array)");
  auto key = info[0].As<Napi::Uint8Array>();
  auto state = info[1].As<Napi::Uint8Array>();
  if (state.ElementLength() != kState) throw Napi::TypeError::New(env, "state has the wrong size");
  unsigned char k[kBlock] = {0};
  if (key.ElementLength() > kBlock) SHA256(key.Data(), key.ElementLength(), k);
  else memcpy(k, key.Data(), key.ElementLength());
  unsigned char pad[kBlock];
  SHA256_CTX ctx[2];
  for (int i = 0; i < 2; i++) {
    for (size_t j = 0; j < kBlock; j++) pad[j] = k[j] ^ (i == 0 ? 0x36 : 0x5c);
    SHA256_Init(&ctx[i]);
    SHA256_Update(&ctx[i], pad, kBlock);
  }
  memcpy(state.Data(), ctx, kState);
  explicit_bzero(k, sizeof k);
  explicit_bzero(pad, sizeof pad);
  explicit_bzero(ctx, sizeof ctx);
  return env.Undefined();
}

// hmacSha256(state: Uint8Array, data: Uint8Array, out: Uint8Array(32)).
Napi::Value Digest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!IsBytes(info[0]) || !IsBytes(info[1]) || !IsBytes(info[2])) {
    throw Napi::TypeError::New(env, "hmacSha256(state: Uint8Array, data: Uint8Array, out: Uint8Array)");
  }
  auto state = info[0].As<Napi::Uint8Array>();
  auto data = info[1].As<Napi::Uint8Array>();
  auto out = info[2].As<Napi::Uint8Array>();
  if (state.ElementLength() != kState || out.ElementLength() != SHA256_DIGEST_LENGTH) throw Napi::TypeError::New(env, "state or out has the wrong size");
  SHA256_CTX ctx;
  unsigned char inner[SHA256_DIGEST_LENGTH];
  memcpy(&ctx, state.Data(), sizeof ctx);
  SHA256_Update(&ctx, data.Data(), data.ElementLength());
  SHA256_Final(inner, &ctx);
  memcpy(&ctx, state.Data() + sizeof ctx, sizeof ctx);
  SHA256_Update(&ctx, inner, sizeof inner);
  SHA256_Final(out.Data(), &ctx);
  explicit_bzero(&ctx, sizeof ctx);
  explicit_bzero(inner, sizeof inner);
  return env.Undefined();
}

}  // namespace

void InitHmac(Napi::Env env, Napi::Object exports) {
  exports.Set("hmacSha256StateBytes", Napi::Number::New(env, static_cast<double>(kState)));
  exports.Set("hmacSha256Prepare", Napi::Function::New(env, Prepare, "hmacSha256Prepare"));
  exports.Set("hmacSha256", Napi::Function::New(env, Digest, "hmacSha256"));
}
