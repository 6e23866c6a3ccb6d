#include "addon.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InitCrypt(env, exports);
  InitGetpwent(env, exports);
  InitDgram(env, exports);
  InitPeerCred(env, exports);
  InitSasldb(env, exports);
  InitKrb5(env, exports);
  InitStatStamp(env, exports);
  InitHmac(env, exports);
  return exports;
}

NODE_API_MODULE(saslauthd_native, Init)
