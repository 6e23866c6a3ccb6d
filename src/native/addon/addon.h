// One module, several small feature files; each registers its exports here.
#pragma once
#include <napi.h>

void InitCrypt(Napi::Env env, Napi::Object exports);
void InitGetpwent(Napi::Env env, Napi::Object exports);
void InitDgram(Napi::Env env, Napi::Object exports);
void InitPeerCred(Napi::Env env, Napi::Object exports);
void InitSasldb(Napi::Env env, Napi::Object exports);
void InitKrb5(Napi::Env env, Napi::Object exports);
